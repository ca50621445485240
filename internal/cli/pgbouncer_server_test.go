package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// pgbouncerRun is one run of the 1,000-client scenario.
type pgbouncerRun struct {
	maxConnections int
	// poolSize is how many server connections PgBouncer held for the 1,000 clients.
	poolSize int
	// directTPS is pgbench straight at PostgreSQL with as many clients as PgBouncer held server
	// connections (the most the server is sized to run at once), for the same transactions.
	directTPS float64
	// admin is pgtune pgbouncer --admin-dsn\'s output, read while the clients queued.
	admin         result
	transactions  int
	failed        int
	tps           float64
	latencyMS     float64
	directRefused bool
	directMessage string
	elapsed       time.Duration
	pgbouncerVer  string
}

var pgbenchNumber = func(out, label string) string {
	m := regexp.MustCompile(regexp.QuoteMeta(label) + `\s*([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// renderedPgBouncer is PostgreSQL started with pgtune config's rendering and PgBouncer started
// beside it with pgtune pgbouncer's, for the database bench owned by app (password app-secret),
// through the rendered auth_query.
type renderedPgBouncer struct {
	srv            *pgtest.Dedicated
	admin          *pgx.Conn
	listen, reach  int    // PgBouncer's port there and from here
	version        string // PgBouncer's, e.g. "1.24"
	maxConnections int
	ini            string // the rendered pgbouncer.ini
	processes      int
}

// startRenderedPgBouncer renders both files for instance (pgtune config flags) with processes
// PgBouncer processes (so_reuseport with [peers] when more than one; 0: two where the PgBouncer
// has peers, 1.19+, else one), and starts them.
func startRenderedPgBouncer(t testing.TB, ctx context.Context, instance []string, processes int) *renderedPgBouncer {
	t.Helper()
	conf := run(t, append([]string{"config", "--pooler"}, instance...)...)
	if conf.code != ExitOK {
		t.Fatalf("config: exit %d: %s", conf.code, conf.stderr)
	}
	srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Conf: conf.stdout, Ports: []int{6432}})
	listen, reach := srv.Port(6432)

	res := &renderedPgBouncer{}
	out, err := srv.Exec(ctx, "pgbouncer", "--version")
	if err != nil && srv.Backend == pgtest.BackendLocal && os.Getenv("CI") != "true" {
		t.Skipf("no pgbouncer beside the local server (apt-get install pgbouncer): %v", err)
	}
	if err != nil {
		t.Fatalf("pgbouncer --version: %v", err)
	}
	m := regexp.MustCompile(`PgBouncer (\d+\.\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pgbouncer --version said %q", out)
	}
	res.version = m[1]
	if processes == 0 {
		processes = 1
		var major, minor int
		if _, err := fmt.Sscanf(res.version, "%d.%d", &major, &minor); err == nil && major*100+minor >= 119 {
			processes = 2
		}
	}
	res.processes = processes

	dir := t.TempDir()
	r := run(t, append(append([]string{"pgbouncer"}, instance...),
		"--database", "bench", "--server-port", strconv.Itoa(srv.ServerPort), "--listen-addr", srv.ListenAddr,
		"--listen-port", strconv.Itoa(listen), "--pgbouncer-version", res.version,
		"--runtime-dir", srv.Dir, "--log-dir", srv.Dir, "--auth-file", srv.Dir+"/userlist.txt",
		"--stats-users", "pgtune", "--admin-users", "pgtune", "--pooler-processes", strconv.Itoa(processes), "--out-dir", dir)...)
	if r.code != ExitOK {
		t.Fatalf("pgbouncer: exit %d: %s", r.code, r.stderr)
	}
	inis := []string{"pgbouncer.ini"}
	if processes > 1 {
		inis = nil
		for i := 1; i <= processes; i++ {
			inis = append(inis, fmt.Sprintf("pgbouncer-%d.ini", i))
			if _, err := srv.Exec(ctx, "mkdir", "-p", fmt.Sprintf("%s/%d", srv.Dir, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, name := range append([]string{"pgbouncer.ini", "auth_setup.sql"}, inis...) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.WriteFile(ctx, srv.Dir+"/"+name, string(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.WriteFile(ctx, srv.Dir+"/userlist.txt", `"pgbouncer_auth" "auth-secret"`+"\n"+`"pgtune" "monitor-secret"`+"\n"); err != nil {
		t.Fatal(err)
	}

	admin, err := pgx.Connect(ctx, srv.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	res.srv, res.admin, res.listen, res.reach = srv, admin, listen, reach
	ini, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.ini"))
	res.ini = string(ini)
	if err := admin.QueryRow(ctx, "SELECT current_setting('max_connections')::int").Scan(&res.maxConnections); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"CREATE ROLE app LOGIN PASSWORD 'app-secret'",
		"CREATE ROLE pgtune LOGIN PASSWORD 'monitor-secret'",
		"CREATE DATABASE bench OWNER app",
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	psql := []string{"psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "postgres", "-d", "postgres"}
	if out, err := srv.Exec(ctx, append(psql, "-f", srv.Dir+"/auth_setup.sql")...); err != nil {
		t.Fatalf("auth_setup.sql: %v\n%s", err, out)
	}
	if out, err := srv.Exec(ctx, append(psql, "-c", "ALTER ROLE pgbouncer_auth PASSWORD 'auth-secret'")...); err != nil {
		t.Fatalf("auth user password: %v\n%s", err, out)
	}
	// File descriptors: 1,000 client sockets plus the server's, on each side.
	for _, ini := range inis {
		if out, err := srv.Exec(ctx, pgbouncerShell("pgbouncer -d "+srv.Dir+"/"+ini)...); err != nil {
			t.Fatalf("start pgbouncer with %s: %v\n%s", ini, err, out)
		}
	}
	t.Cleanup(func() {
		_, _ = srv.Exec(context.Background(), "sh", "-c", "kill $(cat "+srv.Dir+"/pgbouncer.pid "+srv.Dir+"/*/pgbouncer.pid 2>/dev/null)")
	})
	// PgBouncer answers once its socket is up.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://app:app-secret@127.0.0.1:%d/bench?sslmode=disable&default_query_exec_mode=exec", reach))
		if err == nil {
			c.Close(ctx)
			break
		}
		if time.Now().After(deadline) {
			log, _ := srv.Exec(ctx, "sh", "-c", "tail -n 20 "+srv.Dir+"/pgbouncer*.log")
			t.Fatalf("PgBouncer does not accept the app's login through auth_query: %v\n%s", err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}

	return res
}

// pgbouncerShell runs cmd with the open-files limit 1,000 clients need.
func pgbouncerShell(cmd string) []string {
	return []string{"sh", "-c", "ulimit -n 8192 && exec " + cmd}
}

// runPgbouncer1000 renders postgresql.conf and pgbouncer.ini for a 2GB, 2-CPU web instance whose
// application runs 10 instances × 100 connections behind PgBouncer, starts PostgreSQL with the
// config and a real PgBouncer with the ini (scram-sha-256, auth_query through the rendered
// SECURITY DEFINER function), then runs pgbench with 1,000 concurrent clients through PgBouncer,
// and the same 1,000 clients directly against PostgreSQL.
func runPgbouncer1000(t testing.TB, ctx context.Context, transactionsPerClient int) pgbouncerRun {
	instance := []string{"--memory", "2GB", "--cpus", "2", "--profile", "web", "--pg-version", itoa(pgtest.MajorOf(t)),
		"--app-instances", "10", "--app-pool-size", "100"}
	pb := startRenderedPgBouncer(t, ctx, instance, 1)
	srv, admin, listen, reach := pb.srv, pb.admin, pb.listen, pb.reach
	res := pgbouncerRun{pgbouncerVer: pb.version, maxConnections: pb.maxConnections}
	if out, err := srv.Exec(ctx, "env", "PGPASSWORD=app-secret", "pgbench", "-i", "-q", "-s", "10",
		"-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "app", "bench"); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	sh := pgbouncerShell
	// 1,000 clients through PgBouncer.
	bench := func(port int) (string, error) {
		return srv.Exec(ctx, sh(fmt.Sprintf("env PGPASSWORD=app-secret pgbench -n -c 1000 -j 4 -t %d -h 127.0.0.1 -p %d -U app bench", transactionsPerClient, port))...)
	}
	// While the 1,000 clients queue, pgtune reads PgBouncer's admin console, once a second until
	// it sees the queue (the clients first spend a few seconds logging in).
	adminDone := make(chan result, 1)
	benchDone := make(chan struct{})
	go func() {
		var last result
		for {
			select {
			case <-benchDone:
				adminDone <- last
				return
			case <-time.After(time.Second):
			}
			last = run(t, append(append([]string{"pgbouncer"}, instance...), "--database", "bench",
				"--admin-dsn", fmt.Sprintf("postgres://pgtune:monitor-secret@127.0.0.1:%d/pgbouncer?sslmode=disable", reach), "--format", "json")...)
			if strings.Contains(last.stdout, `"rule": "pgbouncer.clients_waiting"`) {
				adminDone <- last
				return
			}
		}
	}()
	start := time.Now()
	out, err := bench(listen)
	res.elapsed = time.Since(start)
	close(benchDone)
	res.admin = <-adminDone
	if err != nil {
		log, _ := srv.Exec(ctx, "tail", "-n", "20", srv.Dir+"/pgbouncer.log")
		t.Fatalf("pgbench through PgBouncer: %v\n%s\npgbouncer.log:\n%s", err, out, log)
	}
	res.transactions, _ = strconv.Atoi(strings.Split(pgbenchNumber(out, "number of transactions actually processed:"), "/")[0])
	if f := pgbenchNumber(out, "number of failed transactions:"); f != "" {
		res.failed, _ = strconv.Atoi(f)
	}
	res.tps, _ = strconv.ParseFloat(pgbenchNumber(out, "tps ="), 64)
	res.latencyMS, _ = strconv.ParseFloat(pgbenchNumber(out, "latency average ="), 64)
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'bench' AND usename = 'app'").Scan(&res.poolSize); err != nil {
		t.Fatal(err)
	}

	// The same 1,000 clients straight at PostgreSQL exceed max_connections.
	out, err = bench(srv.ServerPort)
	res.directRefused = err != nil && (strings.Contains(out, "too many clients") || strings.Contains(out, "remaining connection slots"))
	if i := strings.Index(out, "FATAL:"); i >= 0 {
		res.directMessage = strings.TrimSpace(strings.SplitN(out[i:], "\n", 2)[0])
	}

	// The ceiling: as many direct clients as PgBouncer keeps server connections, no proxy.
	pool := strconv.Itoa(res.poolSize)
	out, err = srv.Exec(ctx, "env", "PGPASSWORD=app-secret", "pgbench", "-n", "-c", pool, "-j", pool, "-t", strconv.Itoa(transactionsPerClient*1000/res.poolSize),
		"-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "app", "bench")
	if err != nil {
		t.Fatalf("pgbench direct with %s clients: %v\n%s", pool, err, out)
	}
	res.directTPS, _ = strconv.ParseFloat(pgbenchNumber(out, "tps ="), 64)
	return res
}

// TestPgBouncer1000Clients: the rendered pair serves 1,000 concurrent clients with zero errors
// where direct connections are refused.
func TestPgBouncer1000Clients(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		res := runPgbouncer1000(t, t.Context(), 10)
		t.Logf("PgBouncer %s, max_connections %d: %d transactions, %d failed, %.0f tps, %.1f ms average latency, %v; direct: refused=%v (%s)",
			res.pgbouncerVer, res.maxConnections, res.transactions, res.failed, res.tps, res.latencyMS, res.elapsed.Round(time.Millisecond), res.directRefused, res.directMessage)
		if res.transactions != 10000 || res.failed != 0 {
			t.Errorf("through PgBouncer: %d of 10000 transactions, %d failed; want all, none failed", res.transactions, res.failed)
		}
		if res.maxConnections >= 1000 {
			t.Errorf("max_connections %d: the point is a budget far below the client count", res.maxConnections)
		}
		if !res.directRefused {
			t.Errorf("1,000 direct clients were not refused by max_connections %d (%s)", res.maxConnections, res.directMessage)
		}
		// The admin console, read mid-run, shows the queue.
		if res.admin.code != ExitOK || !strings.Contains(res.admin.stdout, `"rule": "pgbouncer.clients_waiting"`) || !strings.Contains(res.admin.stdout, `"cl_waiting"`) {
			t.Errorf("pgbouncer --admin-dsn during the run: exit %d, %s\n%s", res.admin.code, res.admin.stderr, firstLines(res.admin.stdout, 40))
		}
		if strings.Contains(res.admin.stdout, "monitor-secret") || strings.Contains(res.admin.stderr, "monitor-secret") {
			t.Error("the admin password was printed")
		}
	})
}

// BenchmarkPgBouncer1000Clients reports the 1,000-client run's throughput and latency through
// PgBouncer against the server's ceiling measured in the same run: pgbench straight at PostgreSQL
// with as many clients as PgBouncer held server connections (docs/BENCHMARKS.md).
//
//	CI=true go test -run '^$' -bench PgBouncer1000Clients -benchtime 1x ./internal/cli/
func BenchmarkPgBouncer1000Clients(b *testing.B) {
	for b.Loop() {
		res := runPgbouncer1000(b, b.Context(), 20)
		if res.failed != 0 || res.transactions != 20000 || !res.directRefused {
			b.Fatalf("run: %+v", res)
		}
		b.ReportMetric(res.tps, "tps_via_pgbouncer")
		b.ReportMetric(res.latencyMS, "ms_avg_latency")
		b.ReportMetric(res.directTPS, "tps_direct_pool")
		b.ReportMetric(res.tps/res.directTPS, "ratio")
		b.ReportMetric(float64(res.maxConnections), "max_connections")
		b.ReportMetric(float64(res.poolSize), "server_conns")
		b.Logf("PgBouncer %s: %+v", res.pgbouncerVer, res)
	}
}
