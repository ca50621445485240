package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverSettings configure a local server like the test image's entrypoint configures its own
// (testdata/pgimage/entrypoint.sh); TestServerSettings checks both backends agree.
var serverSettings = []string{
	"listen_addresses=127.0.0.1",
	"max_connections=200",
	"shared_buffers=128MB",
	"shared_preload_libraries=pg_stat_statements",
	"pg_stat_statements.track=all",
	"pg_stat_statements.max=10000",
	"track_io_timing=on",
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
}

// settingsFor is serverSettings for a server of major m: compute_query_id exists from 14 on.
func settingsFor(m int) []string {
	out := slices.Clone(serverSettings)
	if m >= 14 {
		out = append(out, "compute_query_id=on")
	}
	return out
}

// findBinDir locates the server binaries (initdb and postgres) of major on this machine: PATH,
// pg_config --bindir, or Debian's /usr/lib/postgresql/<major>/bin (which keeps them off PATH).
func findBinDir(major int) (string, error) {
	dirs := localBinDirs()
	if d, ok := dirs[major]; ok {
		return d, nil
	}
	if len(dirs) == 0 {
		return "", errors.New("no initdb/postgres found on PATH, via pg_config --bindir, or under /usr/lib/postgresql/*/bin")
	}
	var have []string
	for m, d := range dirs {
		have = append(have, fmt.Sprintf("%d (%s)", m, d))
	}
	slices.Sort(have)
	return "", fmt.Errorf("no PostgreSQL %d server binaries here (installed: %s)", major, strings.Join(have, ", "))
}

// newestFirst orders Debian bin directories (/usr/lib/postgresql/<major>/bin) newest major first.
func newestFirst(dirs []string) []string {
	out := slices.Clone(dirs)
	sort.SliceStable(out, func(i, j int) bool { return versionOf(out[i]) > versionOf(out[j]) })
	return out
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func hasServerBinaries(dir string) bool {
	for _, b := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// present reports whether a backend's prerequisites exist on this machine, so that under CI an
// unusable backend that ought to work fails instead of skipping.
func present(b Backend, major int) bool {
	switch b {
	case BackendContainer:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		prepareTestcontainersEnv()
		return dockerEngineAnswers(ctx)
	case BackendLocal:
		_, err := findBinDir(major)
		return err == nil
	}
	return false
}

// runAs is the unprivileged account a root test process runs the server as: PostgreSQL refuses
// to run as root. nil means "as ourselves".
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and no unprivileged user (postgres or nobody) to run PostgreSQL as")
}

// cluster is a freshly initialised data directory in a temporary directory of its own, owned by
// the unprivileged user the server will run as.
type cluster struct {
	binDir, dir, dataDir string
	cred                 *syscall.Credential
}

// initCluster finds the server binaries and runs initdb (with extra arguments) in a new
// temporary directory named after prefix. Missing binaries or user make the backend unavailable;
// on any error the directory is removed.
func initCluster(ctx context.Context, major int, prefix string, extra []string) (*cluster, error) {
	binDir, err := findBinDir(major)
	if err != nil {
		return nil, unavailable("%v", err)
	}
	cred, err := runAs()
	if err != nil {
		return nil, unavailable("%v", err)
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	c := &cluster{binDir: binDir, dir: dir, dataDir: filepath.Join(dir, "data"), cred: cred}
	fail := func(err error) (*cluster, error) { os.RemoveAll(dir); return nil, err }
	if cred != nil {
		// The unprivileged user must reach and own its directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			return fail(err)
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), append([]string{
		"-D", c.dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"}, extra...)...)
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb (%s): %w\n%s", binDir, err, tail(string(out), 20)))
	}
	return c, nil
}

func startLocal(ctx context.Context, major int) (*Server, error) {
	c, err := initCluster(ctx, major, "pgtune-pgtest-", nil)
	if err != nil {
		return nil, err
	}
	binDir, dir, dataDir, cred := c.binDir, c.dir, c.dataDir, c.cred
	cleanupDir := func() { os.RemoveAll(dir) }

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			cleanupDir()
			return nil, err
		}
		srv, err := runPostgres(ctx, binDir, dir, dataDir, port, cred)
		if err == nil {
			stop := srv.stop
			srv.stop = func(ctx context.Context) error {
				err := stop(ctx)
				cleanupDir()
				return err
			}
			return srv, nil
		}
		lastErr = err // most likely the port was taken between freePort and bind: try another
	}
	cleanupDir()
	return nil, lastErr
}

func runPostgres(ctx context.Context, binDir, dir, dataDir string, port int, cred *syscall.Credential) (*Server, error) {
	return runPostgresArgs(ctx, binDir, dir, dataDir, port, cred, settingsFor(binMajor(binDir)))
}

// runPostgresArgs starts postgres with settings as -c flags (which win over postgresql.conf).
func runPostgresArgs(ctx context.Context, binDir, dir, dataDir string, port int, cred *syscall.Credential, settings []string) (*Server, error) {
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	args := []string{"-D", dataDir, "-p", strconv.Itoa(port), "-k", dir}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	// Not CommandContext: the server outlives the start-up context and is stopped by Main.
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serverProcAttr(cred)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()

	srv := &Server{
		Backend:   BackendLocal,
		AdminDSN:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		Detail:    fmt.Sprintf("%s, port %d, run as uid %d", filepath.Join(binDir, "postgres"), port, uidOf(cred)),
		socketDir: dir,
		innerDSN: func(db string) string {
			return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, url.PathEscape(db))
		},
		client: func(ctx context.Context, argv []string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, filepath.Join(binDir, argv[0]), argv[1:]...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return out, fmt.Errorf("%s: %w: %s", argv[0], err, tail(stderr.String(), 20))
			}
			return out, nil
		},
		stop: func(ctx context.Context) error {
			_ = cmd.Process.Signal(syscall.SIGINT) // fast shutdown
			select {
			case <-exited:
				return nil
			case <-ctx.Done():
				_ = cmd.Process.Kill()
				<-exited
				return fmt.Errorf("postgres on port %d did not stop in time; killed", port)
			}
		},
	}

	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(readyCtx, srv.AdminDSN)
		if err == nil {
			conn.Close(readyCtx)
			return srv, nil
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(logPath)
			if werr == nil {
				werr = errors.New("exit status 0")
			}
			return nil, fmt.Errorf("postgres exited during start-up (%w):\n%s", werr, tail(string(log), 20))
		case <-readyCtx.Done():
			_ = cmd.Process.Kill()
			<-exited
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres did not accept connections within 60 s:\n%s", tail(string(log), 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func uidOf(cred *syscall.Credential) int {
	if cred == nil {
		return os.Geteuid()
	}
	return int(cred.Uid)
}

func freePort() (int, error) {
	p, err := freePorts(1)
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return p[0], nil
}
