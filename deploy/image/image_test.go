// Package image holds the test of the pgtune container image (Dockerfile, build.sh): the image
// is run as a user would run it, with docker.
package image

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// image is the tag build.sh gives a major's image.
func image(major int) string { return fmt.Sprintf("pgtune:pg%d", major) }

// docker runs the docker CLI and returns its combined output.
func docker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return string(out), err
}

// needImage skips (fails under CI=true) when Docker or the major's image is missing.
func needImage(t *testing.T, major int) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("docker"); err != nil {
		missing = "docker is not installed"
	} else if out, err := docker(t.Context(), "image", "inspect", "--format", "{{.Id}}", image(major)); err != nil {
		missing = fmt.Sprintf("no image %s (%s): build it with deploy/image/build.sh %d", image(major), strings.TrimSpace(out), major)
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(missing)
	}
	t.Skip(missing)
}

// TestImage runs the image of each major this machine has server binaries of (the drill's
// backup is taken from a local server of that major): its user, its programs, `version`,
// `advise --demo`, and a restore drill of a real backup inside the container, as that user.
func TestImage(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		major := pgtest.MajorOf(t)
		needImage(t, major)
		ctx := t.Context()
		img := image(major)

		out, err := docker(ctx, "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}}", img)
		if err != nil || strings.TrimSpace(out) != `pgtune ["/usr/local/bin/pgtune"]` {
			t.Errorf("the image's user and entrypoint: %q (%v); want pgtune and the binary", out, err)
		}
		if out, err := docker(ctx, "run", "--rm", "--entrypoint", "id", img, "-u"); err != nil || strings.TrimSpace(out) != "10001" {
			t.Errorf("the image runs as uid %q (%v), want 10001 (not root)", out, err)
		}
		// The drill's programs, for this major, on PATH.
		progs := []string{"pg_verifybackup", "pg_amcheck", "pg_basebackup", "initdb", "pg_ctl", "postgres", "pgbackrest"}
		if major >= 17 {
			progs = append(progs, "pg_combinebackup")
		}
		script := "for p in " + strings.Join(progs, " ") + "; do command -v $p || echo missing $p; done; pg_ctl --version"
		if out, err := docker(ctx, "run", "--rm", "--entrypoint", "sh", img, "-c", script); err != nil || strings.Contains(out, "missing") ||
			!strings.Contains(out, fmt.Sprintf("/usr/lib/postgresql/%d/bin/pg_verifybackup", major)) || !strings.Contains(out, fmt.Sprintf("(PostgreSQL) %d.", major)) {
			t.Errorf("the drill's programs in the image (%v):\n%s", err, out)
		}

		if out, err := docker(ctx, "run", "--rm", img, "version"); err != nil || !strings.HasPrefix(out, "pgtune ") {
			t.Errorf("pgtune version in the image: %v\n%s", err, out)
		}
		out, err = docker(ctx, "run", "--rm", img, "advise", "--demo", "--format", "json")
		var doc struct {
			Command string `json:"command"`
			Result  struct {
				Findings []struct{ Rule string } `json:"findings"`
			} `json:"result"`
		}
		if err != nil || json.Unmarshal([]byte(out), &doc) != nil || doc.Command != "advise" || len(doc.Result.Findings) < 10 {
			t.Errorf("advise --demo in the image: %v, %d findings\n%.2000s", err, len(doc.Result.Findings), out)
		}

		drillInImage(t, major, img)
	}, pgtest.LocalBinaries())
}

// drillInImage takes a backup of a local server with a WAL archive, writes a row after it, and
// has the image's pgtune prove the backup restores to that row, with nothing but the backup
// and the archive mounted read-only: the container's own server binaries restore it.
func drillInImage(t *testing.T, major int, img string) {
	shared, err := os.MkdirTemp("", "pgtune-image-drill-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	os.Chmod(shared, 0o777)
	archive := filepath.Join(shared, "archive")
	os.Mkdir(archive, 0o777)
	os.Chmod(archive, 0o777)
	srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Local: true, InitDBArgs: []string{"--wal-segsize=1"},
		Conf: "archive_mode = on\narchive_command = 'test ! -f " + archive + "/%f && cp %p " + archive + "/%f'\n"})
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, srv.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE drill_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(shared, "base")
	if out, err := srv.Exec(ctx, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "postgres", "-D", backup, "-F", "t", "-X", "fetch", "-c", "fast"); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	// A row only the archive holds: the drill must replay WAL past the backup to see it.
	if _, err := conn.Exec(ctx, `INSERT INTO drill_probe (id) VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var switched string
	if err := conn.QueryRow(ctx, `SELECT pg_walfile_name(pg_switch_wal())`).Scan(&switched); err != nil {
		t.Fatal(err)
	}
	// The archiver copies the segment just closed a moment later: wait for it (names sort).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var last *string
		if err := conn.QueryRow(ctx, `SELECT last_archived_wal FROM pg_stat_archiver`).Scan(&last); err != nil {
			t.Fatal(err)
		}
		if last != nil && *last >= switched {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment %s not archived in 30 s", switched)
		}
	}
	// The files belong to the server's OS user; the container's user reads them as anyone may.
	if out, err := exec.Command("chmod", "-R", "a+rX", shared).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}

	out, err := docker(ctx, "run", "--rm", "--network", "none", "-v", shared+":/backup:ro", img, "backup", "verify",
		"--base-backup", "/backup/base", "--wal-archive", "/backup/archive", "--target", "latest", "--amcheck",
		"--check", "SELECT count(*) = 1 FROM drill_probe", "--format", "json")
	var rep struct {
		Result struct {
			Passed bool   `json:"passed"`
			OSUser string `json:"os_user"`
			Steps  []struct {
				Name   string `json:"name"`
				Passed bool   `json:"passed"`
				Detail string `json:"detail"`
			} `json:"steps"`
		} `json:"result"`
	}
	if jerr := json.Unmarshal([]byte(jsonPart(out)), &rep); err != nil || jerr != nil || !rep.Result.Passed {
		t.Fatalf("backup verify inside %s: %v (%v)\n%s", img, err, jerr, out)
	}
	var names []string
	for _, s := range rep.Result.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "pre-flight restore recover assert pg_amcheck" {
		t.Errorf("the drill's steps in the image: %s", got)
	}

	// A segment the archiver kept to its owner (a umask of 077): named as a permission the
	// container's user lacks, with the fix, not as damage.
	if err := os.Chmod(filepath.Join(archive, switched), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ = docker(ctx, "run", "--rm", "--network", "none", "-v", shared+":/backup:ro", img, "backup", "verify",
		"--base-backup", "/backup/base", "--wal-archive", "/backup/archive", "--target", "latest")
	if want := "WAL segment " + switched + ": permission denied to this OS user (pgtune): run the drill as the archive's owner"; !strings.Contains(out, want) {
		t.Errorf("an unreadable segment: want %q in\n%s", want, out)
	}
}

// jsonPart is the JSON document in docker's combined output (stderr's log lines come first).
func jsonPart(out string) string {
	if i := strings.Index(out, "{\n"); i >= 0 {
		return out[i:]
	}
	return out
}
