package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DedicatedOptions configure a server of the test's own.
type DedicatedOptions struct {
	// Conf is postgresql.conf text included after the test settings, so it wins: the rendered
	// configuration a test wants the server to start with.
	Conf string
	// Ports are extra ports the test will listen on beside the server (e.g. 6432 for PgBouncer).
	Ports []int
	// Local runs the server from this machine's binaries only, so the test shares its files
	// (a WAL archive, a base backup) with it.
	Local bool
	// InitDBArgs are extra initdb arguments (e.g. --wal-segsize=1) for a local server.
	InitDBArgs []string
}

// Dedicated is a PostgreSQL server of one test's own, with its own configuration, where the test
// can also run programs (PgBouncer, pgbench) as the server's unprivileged user. It is stopped
// when the test ends.
type Dedicated struct {
	Backend Backend
	// Major is the server's PostgreSQL major.
	Major int
	// AdminDSN connects to the postgres database as the superuser postgres.
	AdminDSN string
	// Dir is a scratch directory where the server runs, for files the test's programs use.
	Dir string
	// ServerPort is the server's port as programs beside it reach it on 127.0.0.1.
	ServerPort int
	// ListenAddr is the address a program beside the server listens on to be reachable from the
	// test: "*" in a container (published ports arrive on its bridge address), 127.0.0.1 locally.
	ListenAddr string

	ports  map[int][2]int // requested port → (port to listen on there, port to reach from here)
	binDir string         // local backend: the server binaries
	exec   func(ctx context.Context, argv []string) (string, error)
	write  func(ctx context.Context, path, content string) error
}

// Exec runs argv where the server runs, as its unprivileged user, with the server's binaries
// (pgbench, psql) on PATH; it returns the combined output, and an error if the exit status was
// not zero.
func (d *Dedicated) Exec(ctx context.Context, argv ...string) (string, error) {
	return d.exec(ctx, argv)
}

// WriteFile writes a file where the server runs, readable by its user.
func (d *Dedicated) WriteFile(ctx context.Context, path, content string) error {
	return d.write(ctx, path, content)
}

// BinDir is the local server's binaries directory ("" in a container).
func (d *Dedicated) BinDir() string { return d.binDir }

// Port maps a port named in DedicatedOptions.Ports: listen is what a program beside the server
// should listen on, reach is where the test connects to it (both on 127.0.0.1 from here).
func (d *Dedicated) Port(p int) (listen, reach int) {
	m, ok := d.ports[p]
	if !ok {
		panic(fmt.Sprintf("pgtest: port %d was not requested in DedicatedOptions.Ports", p))
	}
	return m[0], m[1]
}

// NewDedicated starts a server for the test alone: the test image under Docker, else local
// binaries (an existing server from PGTUNE_TEST_DATABASE_URL cannot take a configuration). It
// skips when neither works (fails when CI=true). A configuration the server refuses fails the
// test with the server's log.
func NewDedicated(t testing.TB, o DedicatedOptions) *Dedicated {
	t.Helper()
	major := MajorOf(t)
	if major == 0 {
		skipOrFail(t, howToGetOne)
	}
	var reasons []string
	for _, b := range allowedBackends() {
		var d *Dedicated
		var err error
		switch b {
		case BackendContainer:
			if o.Local {
				continue
			}
			d, err = startDedicatedContainer(t, o, major)
		case BackendLocal:
			d, err = startDedicatedLocal(t, o, major)
		default:
			continue
		}
		if err == nil {
			d.Major = major
			t.Logf("pgtest: dedicated PostgreSQL %d server on the %s backend", major, b)
			return d
		}
		if _, ok := err.(*unavailableError); !ok {
			t.Fatalf("pgtest: dedicated %s server: %v", b, err)
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", b, err))
	}
	skipOrFail(t, fmt.Sprintf("no dedicated PostgreSQL %d server. ", major)+howToGetOne+" [tried: "+strings.Join(reasons, "; ")+"]")
	return nil
}

func startDedicatedContainer(t testing.TB, o DedicatedOptions, major int) (*Dedicated, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	img := imageFor(major)
	if ok, reason := checkDocker(ctx, img); !ok {
		return nil, unavailable("%s", reason)
	}
	exposed := []string{"5432/tcp"}
	for _, p := range o.Ports {
		exposed = append(exposed, fmt.Sprintf("%d/tcp", p))
	}
	ctr, err := runConfigured(ctx, img, exposed, map[string]string{}, o.Conf)
	if err != nil {
		return nil, fmt.Errorf("start %s with the test's configuration: %w", img, err)
	}
	t.Cleanup(func() { _ = testcontainers.TerminateContainer(ctr) })
	endpoint, err := ctr.PortEndpoint(ctx, "5432/tcp", "")
	if err != nil {
		return nil, fmt.Errorf("find the published port: %w", err)
	}
	d := &Dedicated{
		Backend:    BackendContainer,
		AdminDSN:   "postgres://postgres@" + endpoint + "/postgres?sslmode=disable",
		Dir:        "/tmp",
		ServerPort: 5432,
		ListenAddr: "*",
		ports:      map[int][2]int{},
	}
	for _, p := range o.Ports {
		mp, err := ctr.MappedPort(ctx, fmt.Sprintf("%d/tcp", p))
		if err != nil {
			return nil, fmt.Errorf("find the published port for %d: %w", p, err)
		}
		d.ports[p] = [2]int{p, int(mp.Num())}
	}
	d.exec = func(ctx context.Context, argv []string) (string, error) {
		code, r, err := ctr.Exec(ctx, argv, tcexec.Multiplexed(), tcexec.WithUser("postgres"))
		if err != nil {
			return "", fmt.Errorf("exec %s: %w", strings.Join(argv, " "), err)
		}
		out, _ := io.ReadAll(r)
		if code != 0 {
			return string(out), fmt.Errorf("%s exited with %d: %s", argv[0], code, tail(string(out), 20))
		}
		return string(out), nil
	}
	d.write = func(ctx context.Context, path, content string) error {
		return ctr.CopyToContainer(ctx, []byte(content), path, 0o644)
	}
	conn, err := connectRetry(ctx, d.AdminDSN)
	if err != nil {
		return nil, err
	}
	conn.Close(ctx)
	return d, nil
}

func startDedicatedLocal(t testing.TB, o DedicatedOptions, major int) (*Dedicated, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := initCluster(ctx, major, "pgtune-dedicated-", o.InitDBArgs)
	if err != nil {
		return nil, err
	}
	binDir, dir, dataDir, cred := c.binDir, c.dir, c.dataDir, c.cred
	t.Cleanup(func() { os.RemoveAll(dir) })
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// The test settings and then the test's own go into the file (not -c flags, which would win
	// over the file): the same layering as the image's entrypoint.
	var conf strings.Builder
	conf.WriteString("\n# --- pgtest ---\n")
	for _, s := range settingsFor(major) {
		name, value, _ := strings.Cut(s, "=")
		fmt.Fprintf(&conf, "%s = '%s'\n", name, value)
	}
	fmt.Fprintf(&conf, "port = %d\nunix_socket_directories = '%s'\n", port, dir)
	extra := filepath.Join(dir, "extra.conf")
	if err := os.WriteFile(extra, []byte(o.Conf), 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(&conf, "include_if_exists = '%s'\n", extra)
	f, err := os.OpenFile(filepath.Join(dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(conf.String())
	f.Close()
	if err != nil {
		return nil, err
	}
	srv, err := runPostgresArgs(ctx, binDir, dir, dataDir, port, cred, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = srv.stop(ctx)
	})
	d := &Dedicated{Backend: BackendLocal, AdminDSN: srv.AdminDSN, Dir: dir, ServerPort: port, ListenAddr: "127.0.0.1", ports: map[int][2]int{}, binDir: binDir}
	for _, p := range o.Ports {
		fp, err := freePort()
		if err != nil {
			return nil, err
		}
		d.ports[p] = [2]int{fp, fp}
	}
	d.exec = func(ctx context.Context, argv []string) (string, error) {
		path, err := exec.LookPath(argv[0])
		if err != nil {
			if p := filepath.Join(binDir, argv[0]); hasFile(p) {
				path = p
			} else {
				return "", fmt.Errorf("%s not found on PATH or in %s", argv[0], binDir)
			}
		}
		cmd := exec.CommandContext(ctx, path, argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("%s: %w: %s", argv[0], err, tail(out.String(), 20))
		}
		return out.String(), nil
	}
	d.write = func(_ context.Context, path, content string) error {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
		if cred != nil {
			return os.Chown(path, int(cred.Uid), int(cred.Gid))
		}
		return nil
	}
	return d, nil
}

func hasFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// runConfigured runs the test image with conf as its /etc/pgtune/extra.conf (included last) and
// waits until the server accepts connections; a start that fails returns the server's log.
func runConfigured(ctx context.Context, img string, exposed []string, env map[string]string, conf string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
	logs := &logBuffer{}
	env["PGTUNE_LIFETIME_SECONDS"] = fmt.Sprint(int(containerLifetime.Seconds()))
	ctr, err := testcontainers.Run(ctx, img, append([]testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(logs),
		testcontainers.WithExposedPorts(exposed...),
		testcontainers.WithEnv(env),
		testcontainers.WithLabels(map[string]string{ContainerLabel: "true"}),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: strings.NewReader(conf), ContainerFilePath: "/etc/pgtune/extra.conf", FileMode: 0o644,
		}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.ShmSize = 1 << 30 }),
		// A standby says "ready to accept read-only connections".
		testcontainers.WithWaitStrategyAndDeadline(startTimeout,
			wait.ForLog("database system is ready to accept"),
			wait.ForListeningPort("5432/tcp"),
		),
	}, opts...)...)
	if err != nil {
		var serverLog string
		if ctr != nil {
			if r, lerr := ctr.Logs(context.Background()); lerr == nil {
				b, _ := io.ReadAll(r)
				serverLog = string(b)
			}
			_ = testcontainers.TerminateContainer(ctr)
		}
		return nil, fmt.Errorf("%w\nserver log:\n%s\n%s", err, tail(serverLog, 20), tail(logs.String(), 10))
	}
	return ctr, nil
}
