package pgtest

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// Both real backends are exercised whenever this machine has them: the container one needs a
// Docker engine and the test image, the local one server binaries. Under CI=true a backend whose
// prerequisites exist but which does not work fails the test.
// The local backend is exercised on each major whose binaries this machine has.
func TestBackends(t *testing.T) {
	EachMajor(t, func(t *testing.T) {
		backends := []Backend{BackendContainer}
		if _, ok := localBinDirs()[MajorOf(t)]; ok || !inCI() {
			backends = append(backends, BackendLocal)
		}
		for _, b := range backends {
			t.Run(string(b), func(t *testing.T) {
				db := NewOn(t, b, WithExtensions("pg_stat_statements", "hypopg"))
				if db.Server.Backend != b {
					t.Fatalf("served by %s, want %s", db.Server.Backend, b)
				}
				if got := db.Server.Version / 10000; got != MajorOf(t) {
					t.Fatalf("served PostgreSQL %d, want %d", got, MajorOf(t))
				}
				checkServer(t, db)
			})
		}
	})
}

// checkServer asserts what every pgtune test may rely on.
func checkServer(t *testing.T, db *DB) {
	t.Helper()
	ctx := t.Context()
	conn := db.Connect(t)

	want := map[string]string{
		"shared_preload_libraries": "pg_stat_statements",
		"pg_stat_statements.track": "all",
		"track_io_timing":          "on",
	}
	if db.Server.Version >= 140000 {
		want["compute_query_id"] = "on"
	}
	for name, value := range want {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	var current string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil || current != db.Name {
		t.Errorf("connected to %q (%v), want %q", current, err, db.Name)
	}
	// The database is fresh: no tables (the extensions above add only views and functions).
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("fresh database holds %d relations (%v)", tables, err)
	}
	// The extensions work, not merely exist.
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}
	var hypo string
	if err := conn.QueryRow(ctx, "SELECT indexname FROM hypopg_create_index('CREATE INDEX ON t (id)')").Scan(&hypo); err != nil || !strings.Contains(hypo, "btree_t_id") {
		t.Errorf("hypopg_create_index: %q, %v", hypo, err)
	}
	if _, err := conn.Exec(ctx, "SELECT count(*) FROM t WHERE id = 42"); err != nil {
		t.Fatal(err)
	}
	var seen int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%FROM t WHERE id = $1%'").Scan(&seen); err != nil || seen == 0 {
		t.Errorf("pg_stat_statements did not record the query (%d rows, %v)", seen, err)
	}
}

func TestDatabasesAreIsolated(t *testing.T) { EachMajor(t, testDatabasesAreIsolated) }

func testDatabasesAreIsolated(t *testing.T) {
	a, b := New(t), New(t)
	if a.Name == b.Name || a.DSN == b.DSN {
		t.Fatalf("two tests share database %s", a.Name)
	}
	ca, cb := a.Connect(t), b.Connect(t)
	if _, err := ca.Exec(t.Context(), "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := cb.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil || n != 0 {
		t.Errorf("table created in %s is visible in %s (%d, %v)", a.Name, b.Name, n, err)
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) { EachMajor(t, testDatabaseDroppedAfterTest) }

func testDatabaseDroppedAfterTest(t *testing.T) {
	var name string
	var srv *Server
	t.Run("inner", func(t *testing.T) {
		db := New(t)
		name, srv = db.Name, db.Server
	})
	if srv == nil {
		t.Skip("inner test skipped")
	}
	conn, err := connectRetry(t.Context(), srv.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %s still exists after its test ended (%d, %v)", name, n, err)
	}
}

// The local backend passes serverSettings on the command line and the image writes them into
// postgresql.conf; drift between the two would make tests behave differently per backend.
func TestServerSettingsMatchImage(t *testing.T) {
	script, err := os.ReadFile("../../testdata/pgimage/entrypoint.sh")
	if err != nil {
		t.Fatal(err)
	}
	conf := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z_.]+) = '?([^'\n]*)'?$`).FindAllStringSubmatch(string(script), -1) {
		conf[m[1]] = m[2]
	}
	if conf["compute_query_id"] != "on" {
		t.Errorf("the image does not set compute_query_id = on (from 14 on)")
	}
	for _, s := range settingsFor(18) {
		name, value, _ := strings.Cut(s, "=")
		if name == "listen_addresses" {
			continue // loopback locally, every interface in a container
		}
		if conf[name] != value {
			t.Errorf("%s: local backend sets %q, image sets %q", name, value, conf[name])
		}
	}
}

// The tag the harness looks for is the one build.sh gives: run the script's own function.
func TestRecipeHashMatchesBuildScript(t *testing.T) {
	for _, m := range Majors {
		out, err := exec.Command("bash", "-c", `bash ../../testdata/pgimage/build.sh --print-tags "$1"`, "bash", strconv.Itoa(m)).Output()
		if err != nil {
			t.Fatalf("run build.sh's recipe_hash: %v", err)
		}
		want, err := recipeHash(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("pgtune-test-pg:%d-%s", m, want) || got != imageFor(m) {
			t.Errorf("PostgreSQL %d: build.sh tags %s, the harness looks for %s", m, got, want)
		}
	}
}

func TestParseMajors(t *testing.T) {
	for in, want := range map[string][]int{"13,15,17,18": {13, 15, 17, 18}, "pg17 18": {17, 18}, " 15 ,15": {15}} {
		got, err := ParseMajors(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseMajors(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "12", "x", "15,abc", ","} {
		if _, err := ParseMajors(in); err == nil {
			t.Errorf("ParseMajors(%q) accepted", in)
		}
	}
}

type named string

func (n named) Name() string { return string(n) }

func TestMajorOfReadsTheSubtestName(t *testing.T) {
	for name, want := range map[string]int{"TestX/pg17": 17, "TestX/pg13/case": 13, "TestX/pg18/a/b": 18} {
		if got := majorElem.FindStringSubmatch(named(name).Name()); got == nil || got[1] != strconv.Itoa(want) {
			t.Errorf("%s: %v, want %d", name, got, want)
		}
	}
	if majorElem.MatchString("TestX/pgbouncer") || majorElem.MatchString("TestXpg17") {
		t.Error("a name without a pgNN element matched")
	}
}

func TestNewestFirst(t *testing.T) {
	got := newestFirst([]string{"/usr/lib/postgresql/9/bin", "/usr/lib/postgresql/13/bin", "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/15/bin"})
	want := []string{"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/13/bin", "/usr/lib/postgresql/9/bin"}
	if !slices.Equal(got, want) {
		t.Errorf("newestFirst = %v, want %v", got, want)
	}
}

func TestWithDatabaseKeepsTheRestOfTheDSN(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://app:pw@db:6432/postgres?sslmode=require&connect_timeout=5", "postgres://app:pw@db:6432/pgtest_1?sslmode=require&connect_timeout=5"},
		{"postgresql://app@%2Fvar%2Frun%2Fpostgresql/postgres", "postgresql://app@%2Fvar%2Frun%2Fpostgresql/pgtest_1"},
		{"postgres://app@db", "postgres://app@db/pgtest_1"},
		{"postgres://app@db?sslmode=disable", "postgres://app@db/pgtest_1?sslmode=disable"},
		{"host=/var/run/postgresql user=app dbname=postgres", "host=/var/run/postgresql user=app dbname=postgres dbname='pgtest_1'"},
	}
	for _, c := range cases {
		got := withDatabase(c.in, "pgtest_1")
		if got != c.want {
			t.Errorf("withDatabase(%q) = %q, want %q", c.in, got, c.want)
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil || cfg.Database != "pgtest_1" {
			t.Errorf("withDatabase(%q) = %q: database %q, %v", c.in, got, cfg.Database, err)
		}
	}
}

// The env backend serves whatever server the user names, in either DSN form. Point it at the local
// backend's Unix socket with a key=value string: the form a URL rewrite used to break.
func TestEnvBackendOverUnixSocket(t *testing.T) {
	majors := slices.Sorted(maps.Keys(localBinDirs()))
	if len(majors) == 0 {
		skipOrFail(t, "no local server binaries: apt-get install postgresql-15")
	}
	t.Run(fmt.Sprintf("pg%d", majors[len(majors)-1]), testEnvBackendOverUnixSocket)
}

func testEnvBackendOverUnixSocket(t *testing.T) {
	local := NewOn(t, BackendLocal)
	dsn := fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", local.Server.socketDir, portOf(t, local.Server.AdminDSN))
	t.Setenv("PGTUNE_TEST_DATABASE_URL", dsn)
	srv, err := startEnv(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if srv.Version, err = serverVersion(t.Context(), srv.AdminDSN); err != nil || srv.Version < 130000 {
		t.Fatalf("server version through the env backend: %d, %v", srv.Version, err)
	}
	db := newDB(t, srv, nil)
	var current, socket string
	conn := db.Connect(t)
	if err := conn.QueryRow(t.Context(), "SELECT current_database(), coalesce(inet_client_addr()::text, 'unix socket')").Scan(&current, &socket); err != nil {
		t.Fatal(err)
	}
	if current != db.Name || socket != "unix socket" {
		t.Errorf("connected to %q over %q; want %q over the unix socket", current, socket, db.Name)
	}

	t.Setenv("PGTUNE_TEST_DATABASE_URL", "")
	if _, err := startEnv(t.Context()); err == nil {
		t.Error("startEnv without PGTUNE_TEST_DATABASE_URL succeeded")
	} else if _, ok := err.(*unavailableError); !ok {
		t.Errorf("unset URL should make the backend unavailable, not failed: %v", err)
	}
}

func portOf(t *testing.T, dsn string) uint16 {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Port
}
