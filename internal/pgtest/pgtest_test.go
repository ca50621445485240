package pgtest

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// Both real backends are exercised whenever this machine has them: the container one needs a
// Docker engine and the test image, the local one server binaries. Under CI=true a backend whose
// prerequisites exist but which does not work fails the test.
func TestBackends(t *testing.T) {
	for _, b := range []Backend{BackendContainer, BackendLocal} {
		t.Run(string(b), func(t *testing.T) {
			db := NewOn(t, b, WithExtensions("pg_stat_statements", "hypopg"))
			if db.Server.Backend != b {
				t.Fatalf("served by %s, want %s", db.Server.Backend, b)
			}
			checkServer(t, db)
		})
	}
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
		"compute_query_id":         "on",
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

func TestDatabasesAreIsolated(t *testing.T) {
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

func TestDatabaseDroppedAfterTest(t *testing.T) {
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
	for _, s := range serverSettings {
		name, value, _ := strings.Cut(s, "=")
		if name == "listen_addresses" {
			continue // loopback locally, every interface in a container
		}
		if conf[name] != value {
			t.Errorf("%s: local backend sets %q, image sets %q", name, value, conf[name])
		}
	}
}

func TestDefaultImageMatchesBuildScript(t *testing.T) {
	script, err := os.ReadFile("../../testdata/pgimage/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "image=${PGTUNE_TEST_IMAGE:-"+DefaultImage+"}") {
		t.Errorf("build.sh does not build %s", DefaultImage)
	}
}

func TestFindBinDirPrefersNewestDebianVersion(t *testing.T) {
	dirs := []string{"/usr/lib/postgresql/13/bin", "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/15/bin"}
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	if dirs[0] != "/usr/lib/postgresql/17/bin" {
		t.Errorf("newest first: %v", dirs)
	}
}
