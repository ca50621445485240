// Package pgtest gives tests a fresh, empty database on a real PostgreSQL server.
//
// The server has pg_stat_statements preloaded (pg_stat_statements.track = all), track_io_timing on
// and the hypopg extension available. It comes from the first backend that works:
//
//  1. PGTUNE_TEST_DATABASE_URL: an existing server; tests create (and drop) their own databases on it,
//     so the URL needs a role with CREATEDB.
//  2. testcontainers-go, running image PGTUNE_TEST_IMAGE (default: the image
//     testdata/pgimage/build.sh builds from Debian packages, no registry needed).
//  3. Local server binaries (initdb and postgres on PATH, from pg_config --bindir, or under
//     /usr/lib/postgresql/*/bin) in a temporary directory on a free port, run as an unprivileged
//     user when the tests run as root.
//
// PGTUNE_TEST_BACKENDS (e.g. "local" or "env,testcontainers") restricts the backends New may use.
//
// Tests run on several PostgreSQL majors: PGTUNE_TEST_PG (e.g. "13,15,17,18") selects them, and a
// test wraps its body in EachMajor, which runs it as one subtest per major (TestX/pg17); New inside
// serves that major. Each major has a test image of its own (testdata/pgimage/build.sh) and the
// local backend serves whatever majors are installed.
//
// One server per major serves a whole test package (a test binary); every call to New creates a database
// of its own and drops it when the test ends. A package that uses pgtest must run its tests
// through Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without any backend a test skips with a message saying how to get one, except when CI=true,
// where it fails: CI must never go green by skipping its database tests.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backend names where a test server came from. The test log names it for every database.
type Backend string

// The backends, in the order New tries them.
const (
	BackendEnv       Backend = "env"            // PGTUNE_TEST_DATABASE_URL
	BackendContainer Backend = "testcontainers" // the pgtune test image under Docker
	BackendLocal     Backend = "local"          // PostgreSQL binaries on this machine
)

var order = []Backend{BackendEnv, BackendContainer, BackendLocal}

// startTimeout bounds every server start, so a wedged Docker engine or initdb cannot hang a run.
const startTimeout = 2 * time.Minute

// Server is one running PostgreSQL server shared by a test package.
type Server struct {
	Backend Backend
	// AdminDSN connects to the server's maintenance database as a role that may create databases.
	AdminDSN string
	// Detail says which image or binaries serve it, for the test log.
	Detail string
	// Version is server_version_num, e.g. 150018.
	Version int

	socketDir string // local backend: where its Unix socket lives

	// client runs a client program (pg_dump, psql) of the server's own major where the server
	// runs, returning its standard output; innerDSN(db) is how it reaches database db from there.
	client   func(ctx context.Context, argv []string) ([]byte, error)
	innerDSN func(db string) string

	stop func(context.Context) error
}

// DB is a test's own database.
type DB struct {
	// DSN connects to the database (as the server's admin role).
	DSN    string
	Name   string
	Server *Server
}

// unavailableError means a backend cannot be used on this machine; New then tries the next one.
type unavailableError struct{ reason string }

func (e *unavailableError) Error() string { return e.reason }

func unavailable(format string, args ...any) error {
	return &unavailableError{reason: fmt.Sprintf(format, args...)}
}

type slotKey struct {
	backend Backend
	major   int
}

type serverSlot struct {
	once sync.Once
	srv  *Server
	err  error
}

var (
	mainRunning atomic.Bool
	slotsMu     sync.Mutex
	slots       = map[slotKey]*serverSlot{}
	dbCounter   atomic.Int64

	choicesMu sync.Mutex
	choices   = map[int]*choice{}
)

// choice is the server New uses for one major: the first backend that serves it.
type choice struct {
	once    sync.Once
	srv     *Server
	reasons []string
	err     error
}

// Main runs the package's tests, then stops every server they started, and exits.
func Main(m *testing.M) {
	mainRunning.Store(true)
	code := m.Run()
	if err := stopAll(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stopping test servers: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func stopAll() error {
	slotsMu.Lock()
	defer slotsMu.Unlock()
	var errs []string
	for k, s := range slots {
		if s.srv != nil && s.srv.stop != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := s.srv.stop(ctx); err != nil {
				errs = append(errs, fmt.Sprintf("%s pg%d: %v", k.backend, k.major, err))
			}
			cancel()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// server returns the package's server of major for backend b, starting it on first use. Major 0
// means any (the env backend's server, whatever its version).
func server(b Backend, major int) (*Server, error) {
	if b == BackendEnv {
		major = 0 // one server, whatever major it is; New checks it is the one asked for
	}
	slotsMu.Lock()
	s, ok := slots[slotKey{b, major}]
	if !ok {
		s = &serverSlot{}
		slots[slotKey{b, major}] = s
	}
	slotsMu.Unlock()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		switch b {
		case BackendEnv:
			s.srv, s.err = startEnv(ctx)
		case BackendContainer:
			s.srv, s.err = startContainer(ctx, major)
		case BackendLocal:
			s.srv, s.err = startLocal(ctx, major)
		default:
			s.err = fmt.Errorf("unknown backend %q", b)
		}
		if s.err == nil {
			s.srv.Version, s.err = serverVersion(ctx, s.srv.AdminDSN)
		}
		if s.err == nil && major != 0 && s.srv.Version/10000 != major {
			s.err = fmt.Errorf("the %s backend serves PostgreSQL %d, not %d", b, s.srv.Version/10000, major)
		}
	})
	return s.srv, s.err
}

// howToGetOne is the skip (or, under CI, failure) message when no backend works.
const howToGetOne = "no PostgreSQL server for tests. Get one of: " +
	"(a) PGTUNE_TEST_DATABASE_URL=postgres://user@host/postgres (a role with CREATEDB); " +
	"(b) a running Docker engine plus the test images: bash testdata/pgimage/build.sh (select majors with PGTUNE_TEST_PG=13,15,17,18); " +
	"(c) local server binaries: apt-get install postgresql-15 postgresql-15-hypopg"

func requireMain(t testing.TB) {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("pgtest: this package has no TestMain calling pgtest.Main(m); add `func TestMain(m *testing.M) { pgtest.Main(m) }` so the shared server is stopped")
	}
}

// New creates a fresh, empty database for the test on the package's server of the test's major
// (MajorOf) and drops it when the test ends. It skips the test when no backend serves that major
// (fails when CI=true).
func New(t testing.TB, opts ...Option) *DB {
	t.Helper()
	requireMain(t)
	srv := serverFor(t, MajorOf(t))
	return newDB(t, srv, opts)
}

// serverFor is the package's server of major from the first backend that serves it.
func serverFor(t testing.TB, major int) *Server {
	t.Helper()
	if major == 0 {
		skipOrFail(t, howToGetOne)
	}
	choicesMu.Lock()
	c, ok := choices[major]
	if !ok {
		c = &choice{}
		choices[major] = c
	}
	choicesMu.Unlock()
	c.once.Do(func() {
		for _, b := range allowedBackends() {
			srv, err := server(b, major)
			if err == nil && srv.Version/10000 == major {
				c.srv = srv
				return
			}
			if err == nil {
				c.reasons = append(c.reasons, fmt.Sprintf("%s: serves PostgreSQL %d", b, srv.Version/10000))
				continue
			}
			if _, ok := err.(*unavailableError); !ok {
				// The backend should have worked and did not: say so instead of quietly
				// testing on something else.
				c.err = fmt.Errorf("pgtest: %s backend failed for PostgreSQL %d: %w", b, major, err)
				return
			}
			c.reasons = append(c.reasons, fmt.Sprintf("%s: %v", b, err))
		}
	})
	if c.err != nil {
		t.Fatal(c.err)
	}
	if c.srv == nil {
		skipOrFail(t, fmt.Sprintf("no server for PostgreSQL %d. ", major)+howToGetOne+" [tried: "+strings.Join(c.reasons, "; ")+"]")
	}
	return c.srv
}

// NewOn is New on a given backend; the harness's own tests use it to exercise each backend. It
// skips when that backend is unavailable here (fails when CI=true and the backend's prerequisites
// are present: a Docker engine for testcontainers, server binaries for local).
func NewOn(t testing.TB, b Backend, opts ...Option) *DB {
	t.Helper()
	requireMain(t)
	srv, err := server(b, MajorOf(t))
	if err != nil {
		if _, ok := err.(*unavailableError); ok {
			if inCI() && present(b, MajorOf(t)) {
				t.Fatalf("pgtest: %s backend is present but unusable under CI: %v", b, err)
			}
			t.Skipf("pgtest: %s backend unavailable: %v", b, err)
		}
		t.Fatalf("pgtest: %s backend failed: %v", b, err)
	}
	return newDB(t, srv, opts)
}

func inCI() bool { return os.Getenv("CI") == "true" }

// allowedBackends is order, restricted by PGTUNE_TEST_BACKENDS when set.
func allowedBackends() []Backend {
	v := strings.TrimSpace(os.Getenv("PGTUNE_TEST_BACKENDS"))
	if v == "" {
		return order
	}
	var out []Backend
	for _, b := range order {
		for _, want := range strings.Split(v, ",") {
			if Backend(strings.TrimSpace(want)) == b {
				out = append(out, b)
			}
		}
	}
	return out
}

// Program finds a program a test runs (pgbackrest, barman-cloud-backup); without it the test
// skips, or fails under CI=true, naming the Debian package that has it.
func Program(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, fmt.Sprintf("%s is not installed (apt-get install %s; CI installs it)", name, debianPackage))
	}
	return p
}

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if inCI() {
		t.Fatal("pgtest: CI=true, so a database test may not skip: " + msg)
	}
	t.Skip("pgtest: " + msg)
}

// Option adjusts a test database.
type Option func(*dbOptions)

type dbOptions struct {
	extensions []string
}

// WithExtensions runs CREATE EXTENSION for each name in the new database, e.g.
// WithExtensions("pg_stat_statements", "hypopg").
func WithExtensions(names ...string) Option {
	return func(o *dbOptions) { o.extensions = append(o.extensions, names...) }
}

func newDB(t testing.TB, srv *Server, opts []Option) *DB {
	t.Helper()
	var o dbOptions
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	name := fmt.Sprintf("pgtest_%d_%d", os.Getpid(), dbCounter.Add(1))
	admin, err := pgx.Connect(ctx, srv.AdminDSN)
	if err != nil {
		t.Fatalf("pgtest: connect to %s server: %v", srv.Backend, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database on %s server: %v", srv.Backend, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})

	db := &DB{DSN: withDatabase(srv.AdminDSN, name), Name: name, Server: srv}
	if len(o.extensions) > 0 {
		c, err := pgx.Connect(ctx, db.DSN)
		if err != nil {
			t.Fatalf("pgtest: connect to %s: %v", name, err)
		}
		defer c.Close(ctx)
		for _, ext := range o.extensions {
			if _, err := c.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+pgx.Identifier{ext}.Sanitize()); err != nil {
				t.Fatalf("pgtest: CREATE EXTENSION %s on %s server: %v", ext, srv.Backend, err)
			}
		}
	}
	t.Logf("pgtest: database %s on the %s backend (%s, server_version_num %d)", name, srv.Backend, srv.Detail, srv.Version)
	return db
}

// Client runs a PostgreSQL client program of the server's own major (pg_dump, psql: a client
// older than the server refuses it) against the test database, where the server runs, and
// returns its standard output. The database is passed as --dbname after args.
func (db *DB) Client(ctx context.Context, program string, args ...string) ([]byte, error) {
	if db.Server.client == nil {
		return nil, fmt.Errorf("pgtest: the %s backend cannot run %s", db.Server.Backend, program)
	}
	argv := append(append([]string{program}, args...), "--dbname", db.Server.innerDSN(db.Name))
	return db.Server.client(ctx, argv)
}

// Connect opens a connection to the test database, closed when the test ends.
func (db *DB) Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", db.Name, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// withDatabase returns dsn pointing at database name, keeping everything else the user wrote
// (sslmode, a Unix-socket host, other parameters). dsn is a URL or a key=value string.
func withDatabase(dsn, name string) string {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok && (scheme == "postgres" || scheme == "postgresql") {
		// Not net/url: it rejects hosts libpq accepts, such as a socket directory "%2Fvar%2Frun".
		// The authority ends at the first '/' or '?'; the path runs to the '?'.
		end := strings.IndexAny(rest, "/?")
		if end < 0 {
			return dsn + "/" + url.PathEscape(name)
		}
		authority, tail := rest[:end], rest[end:]
		query := ""
		if q := strings.IndexByte(tail, '?'); q >= 0 {
			query = tail[q:]
		}
		return scheme + "://" + authority + "/" + url.PathEscape(name) + query
	}
	// In a key=value string a later key wins, so appending overrides any dbname already there.
	return strings.TrimSpace(dsn) + " dbname='" + name + "'"
}

func serverVersion(ctx context.Context, dsn string) (int, error) {
	conn, err := connectRetry(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var v int
	err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v)
	return v, err
}

// connectRetry connects, retrying while the server is still starting up, until ctx ends.
func connectRetry(ctx context.Context, dsn string) (*pgx.Conn, error) {
	for {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("server did not accept connections: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WaitForStats waits (up to 10 s) until the cumulative statistics show at least inserts rows
// inserted into table: a backend reports its counters about once a second, so a test that reads
// them right after writing would otherwise race.
func WaitForStats(t testing.TB, conn *pgx.Conn, table string, inserts int64) {
	t.Helper()
	waitForCounter(t, conn, "SELECT coalesce(sum(n_tup_ins), 0)::int8 FROM pg_stat_user_tables WHERE relname = $1", table, inserts, "inserts")
}

// waitForCounter polls query (one counter of table) until it reaches want, for up to 10 s.
func waitForCounter(t testing.TB, conn *pgx.Conn, query, table string, want int64, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int64
		// Each check is its own transaction: within one, the counters are read once and cached.
		if err := conn.QueryRow(context.Background(), query, table).Scan(&n); err != nil {
			t.Fatalf("pgtest: read statistics of %s: %v", table, err)
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: statistics of %s show %d %s after 10 s, want %d", table, n, what, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitForIndexScans waits (up to 10 s) until the cumulative statistics of the server conn is
// connected to show an index scan of table.
func WaitForIndexScans(t testing.TB, conn *pgx.Conn, table string) {
	t.Helper()
	waitForCounter(t, conn, "SELECT coalesce(sum(idx_scan), 0)::int8 FROM pg_stat_user_indexes WHERE relname = $1", table, 1, "index scans")
}
