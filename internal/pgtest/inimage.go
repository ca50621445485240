package pgtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// inImageVar marks a test binary EachMajorWithBinaries started inside a major's test image.
const inImageVar = "PGTUNE_TEST_IN_IMAGE"

// inImageTimeout bounds one test run inside an image.
const inImageTimeout = 20 * time.Minute

// EachMajorWithBinaries runs fn as a subtest per selected major, for tests that share files with
// their server and run its programs themselves (the restore drill: a WAL archive, a base backup,
// pg_basebackup, a scratch server). Where this machine has the major's server binaries, fn runs
// here. Where it does not, this very test binary runs inside the major's test image (as root, the
// image's binaries as its local backend, the module mounted at the same path) and the subtest
// passes only when the test passed in there. An image whose C library is older than the one this
// binary was linked against (bullseye's, for 13, on a bookworm host) cannot run it: such a major
// gets no subtest, and the test log says so.
func EachMajorWithBinaries(t *testing.T, fn func(t *testing.T), opts ...MajorOption) {
	t.Helper()
	if os.Getenv(inImageVar) == "1" {
		EachMajor(t, fn, append(opts, LocalBinaries())...)
		return
	}
	majors, err := Selected()
	if err != nil {
		t.Fatal(err)
	}
	local := localBinDirs()
	ran := false
	for _, m := range majors {
		if !keep(m, opts) {
			continue
		}
		if _, ok := local[m]; ok {
			ran = true
			t.Run(fmt.Sprintf("pg%d", m), fn)
			continue
		}
		if ok, why := canRunInImage(m); !ok {
			t.Logf("pgtest: PostgreSQL %d: no server binaries here, and this test binary cannot run in its image: %s", m, why)
			continue
		}
		ran = true
		t.Run(fmt.Sprintf("pg%d", m), func(t *testing.T) { runInImage(t, m) })
	}
	if !ran {
		skipOrFail(t, fmt.Sprintf("no major of %v has server binaries here or an image this test binary runs in", majors))
	}
}

var (
	canRunMu sync.Mutex
	canRun   = map[int]string{} // major → "" when this binary runs in its image, else why not
)

// canRunInImage starts this test binary in major's image once (-test.list) to see whether it runs.
func canRunInImage(major int) (bool, string) {
	canRunMu.Lock()
	defer canRunMu.Unlock()
	if why, ok := canRun[major]; ok {
		return why == "", why
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	code, out, err := inImage(ctx, major, []string{"-test.list", "^$"}, nil, "")
	why := ""
	switch {
	case err != nil:
		why = err.Error()
	case code != 0:
		why = fmt.Sprintf("exit %d: %s", code, tail(out, 3))
	}
	canRun[major] = why
	return why == "", why
}

// runInImage runs the current subtest's top-level test for major inside its image.
func runInImage(t *testing.T, major int) {
	t.Helper()
	top, _, _ := strings.Cut(t.Name(), "/")
	ctx, cancel := context.WithTimeout(t.Context(), inImageTimeout)
	defer cancel()
	pattern := fmt.Sprintf("^%s$/^pg%d$", regexp.QuoteMeta(top), major)
	outbox, err := outboxFor(top)
	if err != nil {
		t.Fatal(err)
	}
	code, out, err := inImage(ctx, major, []string{"-test.run", pattern, "-test.v", "-test.count=1", "-test.timeout", inImageTimeout.String()},
		map[string]string{MajorsVar: fmt.Sprint(major), "PGTUNE_TEST_BACKENDS": string(BackendLocal), outboxVar: "/pgtest/outbox"}, outbox)
	if testing.Verbose() || code != 0 || err != nil {
		t.Logf("inside %s:\n%s", imageFor(major), out)
	}
	if err != nil {
		t.Fatalf("pgtest: run %s inside %s: %v", top, imageFor(major), err)
	}
	if code != 0 {
		t.Fatalf("pgtest: %s failed inside %s (exit %d)", top, imageFor(major), code)
	}
	// A pattern that matched nothing also exits 0: insist the subtest ran and passed in there.
	if !strings.Contains(out, fmt.Sprintf("--- PASS: %s/pg%d ", top, major)) {
		t.Fatalf("pgtest: %s/pg%d did not run inside %s", top, major, imageFor(major))
	}
}

// inImage runs this test binary with args inside major's image and returns its exit code and
// combined output.
// outbox, when not empty, is this machine's directory mounted at /pgtest/outbox (Hand).
func inImage(ctx context.Context, major int, args []string, env map[string]string, outbox string) (int, string, error) {
	img := imageFor(major)
	if ok, reason := checkDocker(ctx, img); !ok {
		return 0, "", fmt.Errorf("%s", reason)
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, "", err
	}
	wd, err := os.Getwd()
	if err != nil {
		return 0, "", err
	}
	imgDir, err := imageDir()
	if err != nil {
		return 0, "", err
	}
	root := filepath.Dir(filepath.Dir(imgDir)) // the module
	e := map[string]string{inImageVar: "1", "CI": os.Getenv("CI"), "TMPDIR": "/tmp", "HOME": "/root"}
	if weedBinary() != "" {
		e[WeedVar] = "/pgtest/weed"
	}
	for k, v := range env {
		e[k] = v
	}
	ctr, err := testcontainers.Run(ctx, img,
		testcontainers.WithEntrypoint(append([]string{"/pgtest/test.bin"}, args...)...),
		testcontainers.WithEnv(e),
		testcontainers.WithLabels(map[string]string{ContainerLabel: "true"}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.ShmSize = 1 << 30
			hc.Binds = append(hc.Binds, exe+":/pgtest/test.bin:ro", root+":"+root+":ro")
			if outbox != "" {
				hc.Binds = append(hc.Binds, outbox+":/pgtest/outbox")
			}
			if weed := weedBinary(); weed != "" {
				// The S3 server (NewS3) is static: this machine's build runs in every image.
				hc.Binds = append(hc.Binds, weed+":/pgtest/weed:ro")
			}
		}),
		testcontainers.WithConfigModifier(func(c *container.Config) { c.WorkingDir = wd }),
		testcontainers.WithWaitStrategyAndDeadline(inImageTimeout, wait.ForExit()),
	)
	if ctr != nil {
		defer func() { _ = testcontainers.TerminateContainer(ctr) }()
	}
	if err != nil {
		return 0, "", fmt.Errorf("start %s: %w", img, err)
	}
	state, err := ctr.State(ctx)
	if err != nil {
		return 0, "", err
	}
	r, err := ctr.Logs(ctx)
	if err != nil {
		return state.ExitCode, "", err
	}
	b, _ := io.ReadAll(r)
	return state.ExitCode, string(b), nil
}
