package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Majors are the PostgreSQL majors the test images are built for: each is packaged by a Debian
// suite the mirror serves (13 bullseye, 15 bookworm, 17 trixie, 18 testing). 14 and 16 are
// packaged by none; pgtune's version gates for them are tested on the majors either side.
var Majors = []int{13, 15, 17, 18}

// MajorsVar selects the majors database tests run on, e.g. PGTUNE_TEST_PG=15,18.
const MajorsVar = "PGTUNE_TEST_PG"

// Selected returns the majors database tests run on: PGTUNE_TEST_PG when set; otherwise every
// major this machine can serve (the env backend's server, a test image of the current recipe,
// local server binaries). An empty result means no backend: tests then skip (fail under CI).
func Selected() ([]int, error) {
	selectedOnce.Do(func() { selected, selectedErr = selectMajors() })
	return selected, selectedErr
}

var (
	selectedOnce sync.Once
	selected     []int
	selectedErr  error
)

func selectMajors() ([]int, error) {
	if v := strings.TrimSpace(os.Getenv(MajorsVar)); v != "" {
		return ParseMajors(v)
	}
	seen := map[int]bool{}
	allowed := allowedBackends()
	if slices.Contains(allowed, BackendEnv) && os.Getenv("PGTUNE_TEST_DATABASE_URL") != "" {
		// The user named a server: that is the one to test on.
		srv, err := server(BackendEnv, 0)
		if err != nil {
			return nil, err
		}
		return []int{srv.Version / 10000}, nil
	}
	if slices.Contains(allowed, BackendContainer) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, m := range Majors {
			if ok, _ := checkDocker(ctx, imageFor(m)); ok {
				seen[m] = true
			}
		}
	}
	if slices.Contains(allowed, BackendLocal) {
		for m := range localBinDirs() {
			seen[m] = true
		}
	}
	var out []int
	for m := range seen {
		out = append(out, m)
	}
	slices.Sort(out)
	return out, nil
}

// ParseMajors reads a PGTUNE_TEST_PG value: majors separated by commas or spaces.
func ParseMajors(v string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		m, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(f), "pg"))
		if err != nil || m < 13 || m > 99 {
			return nil, fmt.Errorf("%s=%q: %q is not a PostgreSQL major (13 or later, e.g. %s=13,15,17,18)", MajorsVar, v, f, MajorsVar)
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s=%q names no major (e.g. %s=13,15,17,18)", MajorsVar, v, MajorsVar)
	}
	return out, nil
}

// MajorOption narrows the majors a test runs on, for behaviour a version introduced.
type MajorOption func(int) bool

// Since runs the test on majors m and later only.
func Since(m int) MajorOption { return func(v int) bool { return v >= m } }

// Before runs the test on majors before m only.
func Before(m int) MajorOption { return func(v int) bool { return v < m } }

// LocalBinaries runs the test on majors whose server binaries this machine has: tests that share
// files with a server (a WAL archive, a base backup) and run its programs themselves.
func LocalBinaries() MajorOption {
	return func(v int) bool { _, ok := localBinDirs()[v]; return ok }
}

// EachMajor runs fn as a subtest named pgNN for every selected major (narrowed by opts); pgtest.New
// and NewDedicated inside it serve that major. Without any backend it runs fn once, as "nopg",
// where New skips (fails under CI) saying how to get a server.
func EachMajor(t *testing.T, fn func(t *testing.T), opts ...MajorOption) {
	t.Helper()
	majors, err := Selected()
	if err != nil {
		t.Fatal(err)
	}
	if len(majors) == 0 {
		t.Run("nopg", fn)
		return
	}
	ran := false
	for _, m := range majors {
		if !keep(m, opts) {
			continue
		}
		ran = true
		t.Run(fmt.Sprintf("pg%d", m), fn)
	}
	if !ran {
		// The selection holds no major this behaviour exists on: the user chose so (under CI the
		// selection is every major, so this cannot hide a test there).
		t.Skipf("pgtest: none of the selected majors %v has this behaviour; add one with %s", majors, MajorsVar)
	}
}

func keep(m int, opts []MajorOption) bool {
	for _, o := range opts {
		if !o(m) {
			return false
		}
	}
	return true
}

var majorElem = regexp.MustCompile(`(?:^|/)pg(\d+)(?:/|$)`)

// MajorOf is the major a test serves: the pgNN element of its name (set by EachMajor), else the
// first selected major. 0 means none is selected (no backend).
func MajorOf(t testing.TB) int {
	if m := majorElem.FindStringSubmatch(t.Name()); m != nil {
		v, _ := strconv.Atoi(m[1])
		return v
	}
	majors, _ := Selected()
	if len(majors) > 0 {
		return majors[0]
	}
	return 0
}

// imageFor is the test image of major m: PGTUNE_TEST_IMAGE_<m> when set (an image built with the
// Dockerfile, say), else the tag build.sh gives the current recipe.
func imageFor(m int) string {
	if v := os.Getenv(fmt.Sprintf("PGTUNE_TEST_IMAGE_%d", m)); v != "" {
		return v
	}
	h, err := recipeHash(m)
	if err != nil {
		return fmt.Sprintf("pgtune-test-pg:%d-unknown", m)
	}
	return fmt.Sprintf("pgtune-test-pg:%d-%s", m, h)
}

// recipeHash is the content hash build.sh tags an image with: sha256 over "major=M\n", recipe.sh
// and entrypoint.sh, its first 12 hex digits. Keep in step with recipe_hash in build.sh
// (TestRecipeHashMatchesBuildScript runs the script's own function).
func recipeHash(m int) (string, error) {
	dir, err := imageDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "major=%d\n", m)
	for _, f := range []string{"recipe.sh", "entrypoint.sh"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// imageDir finds testdata/pgimage above the working directory (a test runs in its package's
// directory, inside the module).
func imageDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "pgimage"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("pgtest: no go.mod above the working directory, so no testdata/pgimage")
		}
		dir = parent
	}
}

// localBinDirs maps each major with server binaries on this machine to their directory: Debian's
// /usr/lib/postgresql/<major>/bin, and whatever PATH or pg_config --bindir names.
func localBinDirs() map[int]string {
	out := map[int]string{}
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	if b, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(b)))
	}
	globbed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = append(dirs, newestFirst(globbed)...)
	for _, d := range dirs {
		if !hasServerBinaries(d) {
			continue
		}
		m := binMajor(d)
		if m == 0 {
			continue
		}
		if _, ok := out[m]; !ok {
			out[m] = d
		}
	}
	return out
}

var versionOutput = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// binMajor is the major of the postgres binary in dir, from `postgres --version`.
func binMajor(dir string) int {
	b, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return 0
	}
	m := versionOutput.FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}
