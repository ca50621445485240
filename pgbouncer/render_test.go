package pgbouncer

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/pgconf"
	"github.com/bookedbarber/pgtune/pgconf/conffile"
)

func instance() pgconf.Instance {
	return pgconf.Instance{Memory: 16 * pgconf.GB, CPUs: 8, Storage: pgconf.StorageSSD, Profile: pgconf.ProfileWeb,
		Version: 17, OS: pgconf.OSLinux, Pooler: true, AppInstances: 20, AppPoolSize: 25}
}

func options() Options {
	return Options{Databases: []string{"booking"}, ServerHost: "10.0.0.5", ServerPort: 5432, ListenAddr: "*", ListenPort: 6432,
		Version: "1.23", PoolMode: "transaction", AppTimeout: 30 * time.Second, AuthUser: "pgbouncer_auth",
		RuntimeDir: "/var/run/postgresql", AuthFile: "/etc/pgbouncer/userlist.txt", LogDir: "/var/log/postgresql"}
}

func render(t *testing.T, in pgconf.Instance, o Options) *Config {
	t.Helper()
	cfg, err := pgconf.Recommend(in)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRenderSizing(t *testing.T) {
	tests := []struct {
		cpus, hosts, procs                   int
		storage                              pgconf.Storage
		pool, reserve, maxClient, maxDB, fds string
	}{
		{8, 1, 1, pgconf.StorageSSD, "16", "4", "630", "20", ""},
		{8, 1, 2, pgconf.StorageSSD, "8", "2", "320", "10", ""},
		{8, 2, 2, pgconf.StorageSSD, "4", "1", "160", "5", ""},
		{2, 1, 1, pgconf.StorageHDD, "6", "1", "630", "7", ""}, // 2 × 2 cores + 2 spindles
		{1, 4, 1, pgconf.StorageSSD, "2", "1", "160", "3", ""}, // never below 2
	}
	for _, tt := range tests {
		in := instance()
		in.CPUs, in.PoolerHosts, in.PoolerProcesses, in.Storage = tt.cpus, tt.hosts, tt.procs, tt.storage
		r := render(t, in, options())
		got := [4]string{r.Get("default_pool_size"), r.Get("reserve_pool_size"), r.Get("max_client_conn"), r.Get("max_db_connections")}
		if want := [4]string{tt.pool, tt.reserve, tt.maxClient, tt.maxDB}; got != want {
			t.Errorf("%d CPUs, %d hosts × %d processes, %s: pool, reserve, max_client_conn, max_db_connections = %v, want %v", tt.cpus, tt.hosts, tt.procs, tt.storage, got, want)
		}
		// The budget postgresql.conf was sized from counts every process's pools.
		if r.Budget.Rows[0].Connections != tt.hosts*tt.procs*(r.Sizing.DefaultPoolSize+r.Sizing.ReservePoolSize) {
			t.Errorf("budget row %+v does not count %d × %d processes", r.Budget.Rows[0], tt.hosts, tt.procs)
		}
	}
}

func TestRenderVersionGates(t *testing.T) {
	o := options()
	o.Version = "1.18"
	r := render(t, instance(), o)
	if r.Get("max_prepared_statements") != "" || !strings.Contains(strings.Join(r.Notes, " "), "default_query_exec_mode=exec") {
		t.Errorf("1.18: max_prepared_statements %q, notes %q", r.Get("max_prepared_statements"), r.Notes)
	}
	o.Version = "1.23"
	if r := render(t, instance(), o); r.Get("max_prepared_statements") != "200" {
		t.Errorf("1.23: max_prepared_statements %q", r.Get("max_prepared_statements"))
	}
	in := instance()
	in.PoolerProcesses = 3
	o.Version = "1.18"
	cfg, _ := pgconf.Recommend(in)
	if _, err := Render(cfg, o); err == nil || !strings.Contains(err.Error(), "1.19") {
		t.Errorf("so_reuseport on 1.18: %v, want a refusal naming 1.19", err)
	}
	for _, bad := range []string{"2.0", "1", "one.two", "1.11"} {
		o.Version = bad
		if _, err := Render(cfg, o); err == nil {
			t.Errorf("version %q accepted", bad)
		}
	}
}

func TestRenderTimeouts(t *testing.T) {
	o := options()
	o.AppTimeout = 12 * time.Second
	r := render(t, instance(), o)
	if r.Get("query_wait_timeout") != "8" || r.Get("idle_transaction_timeout") != "12" {
		t.Errorf("query_wait_timeout %s, idle_transaction_timeout %s for a 12 s app", r.Get("query_wait_timeout"), r.Get("idle_transaction_timeout"))
	}
	o.AppTimeout = time.Second
	cfg, _ := pgconf.Recommend(instance())
	if _, err := Render(cfg, o); err == nil {
		t.Error("a 1 s application timeout accepted: query_wait_timeout would round to 0, which waits forever")
	}
}

func TestWriteINI(t *testing.T) {
	in := instance()
	in.PoolerProcesses = 2
	r := render(t, in, options())
	var b strings.Builder
	if err := WriteINI(&b, r, "pgtune test", ""); err != nil {
		t.Fatal(err)
	}
	ini := b.String()
	section := ""
	for _, line := range strings.Split(ini, "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		default:
			key, value, ok := strings.Cut(line, " = ")
			if !ok || key == "" || value == "" {
				t.Errorf("line %q is not key = value", line)
			}
			if section == "[pgbouncer]" && strings.Contains(value, ";") {
				t.Errorf("line %q: PgBouncer would read the comment as part of the value", line)
			}
		}
	}
	for _, want := range []string{
		"booking = host=10.0.0.5 port=5432 dbname=booking",
		"so_reuseport = 1",
		"[peers]\n1 = host=/var/run/postgresql/1 port=6432\n2 = host=/var/run/postgresql/2 port=6432",
		";;   [ ] LISTEN",
	} {
		if !strings.Contains(ini, want) {
			t.Errorf("pgbouncer.ini lacks %q", want)
		}
	}
	// The same budget lines postgresql.conf's header prints.
	cfg, _ := pgconf.Recommend(in)
	for _, l := range conffile.ConnectionBudgetLines(cfg.Connections) {
		if !strings.Contains(ini, ";; "+l) {
			t.Errorf("pgbouncer.ini lacks the budget line %q", l)
		}
	}
	var p strings.Builder
	if err := WriteProcessINI(&p, r, 2); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[databases]", "listen_addr = ", "so_reuseport = 1", "[peers]", "peer_id = 2", "unix_socket_dir = /var/run/postgresql/2", "pidfile = /var/run/postgresql/2/pgbouncer.pid"} {
		if !strings.Contains(p.String(), want) {
			t.Errorf("pgbouncer-2.ini lacks %q:\n%s", want, p.String())
		}
	}
	if n := strings.Count(p.String(), "unix_socket_dir = "); n != 1 || strings.Contains(p.String(), "%include") {
		t.Errorf("pgbouncer-2.ini sets unix_socket_dir %d times, or includes another file:\n%s", n, p.String())
	}
}

func TestWriteAuthSQL(t *testing.T) {
	o := options()
	o.Databases = []string{"booking", "reports"}
	var b strings.Builder
	if err := WriteAuthSQL(&b, render(t, instance(), o)); err != nil {
		t.Fatal(err)
	}
	sql := b.String()
	for _, want := range []string{
		"SECURITY DEFINER", "SET search_path = pg_catalog, pg_temp", "rolvaliduntil", "NOT a.rolsuper",
		"REVOKE ALL ON FUNCTION pgbouncer.user_lookup(text) FROM PUBLIC;",
		"GRANT EXECUTE ON FUNCTION pgbouncer.user_lookup(text) TO pgbouncer_auth;",
		"\\connect booking", "\\connect reports",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("auth_setup.sql lacks %q", want)
		}
	}
	if strings.Count(sql, "CREATE OR REPLACE FUNCTION") != 2 {
		t.Error("the lookup function must be created in every database")
	}
}

// With replicas, each database gets a read pool over every replica's host: sized for all their
// cores, counted in max_client_conn, load_balance_hosts spelled out where PgBouncer has it (1.24),
// refused where PgBouncer has no host lists (before 1.17), and the replica count must match.
func TestRenderReadPool(t *testing.T) {
	in := instance()
	in.Replicas = 2
	o := options()
	o.ReplicaHosts = []string{"replica1", "10.0.0.7"}
	for _, tc := range []struct {
		version, balance string
	}{{"1.18", ""}, {"1.24", " load_balance_hosts=round-robin"}} {
		o.Version = tc.version
		r := render(t, in, o)
		var ini strings.Builder
		if err := WriteINI(&ini, r, "pgtune test", ""); err != nil {
			t.Fatal(err)
		}
		// 2 × 8 cores × 2 replicas = 32, reserve 8.
		want := "booking_ro = host=replica1,10.0.0.7 port=5432 dbname=booking pool_size=32 reserve_pool=8 max_db_connections=40" + tc.balance + "\n"
		if !strings.Contains(ini.String(), want) || !strings.Contains(ini.String(), "booking = host=10.0.0.5 ") {
			t.Errorf("PgBouncer %s: [databases] lacks\n%s\n%s", tc.version, want, ini.String())
		}
		// 500 writes and 500 reads × 1.25.
		if got := r.Get("max_client_conn"); got != "1260" {
			t.Errorf("max_client_conn = %s, want 1260 (writes and reads)", got)
		}
		if r.ReadPool == nil || r.Budget.Replica.Rows[0].Connections != 40 {
			t.Errorf("read pool %+v, replica budget %+v", r.ReadPool, r.Budget.Replica)
		}
	}
	cfg, err := pgconf.Recommend(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		hosts   []string
		want    string
	}{
		{"1.15", []string{"r1", "r2"}, "has no host lists"},
		{"1.24", []string{"r1"}, "sized for 2 replicas but 1 replica host"},
		{"1.24", []string{"r1", "r2,r3"}, "ReplicaHosts"},
		{"1.24", []string{"r1", "/var/run/postgresql"}, "ReplicaHosts"},
	} {
		o := options()
		o.Version, o.ReplicaHosts = tc.version, tc.hosts
		if _, err := Render(cfg, o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("PgBouncer %s, hosts %q: %v, want an error with %q", tc.version, tc.hosts, err, tc.want)
		}
	}
	noReplicas, _ := pgconf.Recommend(instance())
	o.ReplicaHosts = []string{"r1"}
	if _, err := Render(noReplicas, o); err == nil || !strings.Contains(err.Error(), "sized without replicas") {
		t.Errorf("replica hosts for an instance without replicas: %v", err)
	}
}
