package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/atomicfile"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/pgbouncer"
	"github.com/bookedbarber/pgtune/pgconf"
	"github.com/bookedbarber/pgtune/pgconf/conffile"
)

var pgbouncerCmd = &command{
	name:    "pgbouncer",
	summary: "render pgbouncer.ini and its auth set-up from the same instance model as config",
	help: `Usage: pgtune pgbouncer --memory SIZE --cpus N --database NAME [flags]

Renders pgbouncer.ini from the instance model 'pgtune config' uses, so PgBouncer's pools and
PostgreSQL's max_connections come from one connection budget (both commands print it): pools
sized from the cores (2 × cores + spindles busy server connections, divided over hosts and
so_reuseport processes), a reserve for bursts, max_client_conn from the application's
connections, max_db_connections as a hard cap, timeouts below the application's own, keepalives,
max_prepared_statements (PgBouncer 1.21+), scram-sha-256 with an auth_query through a SECURITY
DEFINER function with a fixed search_path. Transaction pooling (the default) comes with the
checklist of what it breaks, as comments.

With --replica-hosts (the read replicas, as for 'pgtune config --replicas N'), each database also
gets a read pool, NAME_ro, whose host list names every replica (PgBouncer 1.17+; new server
connections go to each in turn): the application sends its reads there. The read pool is sized
for every replica's cores, and each replica's share of the budget for the whole read pool with
one replica out, so one node's max_connections serves all (the same postgresql.conf).

Give the same instance flags as to 'pgtune config' (--pooler is implied). --out-dir DIR writes
pgbouncer.ini, one pgbouncer-N.ini per so_reuseport process, and auth_setup.sql (run it with
psql as a superuser); without it, --format ini prints pgbouncer.ini, --format sql the auth
set-up, json/table/markdown the whole result.

With --admin-dsn it reads a running PgBouncer's admin console instead (SHOW POOLS, STATS and
CONFIG, simple protocol) and reports clients waiting for a server connection and for how long,
pools with every server connection busy, the average wait per database, clients near
max_client_conn, and — given the instance flags — settings that differ from pgtune's.
--fail-on sets exit 1 on findings at or above a severity.

Examples:
  pgtune pgbouncer --admin-dsn postgres://pgtune@pgbouncer.internal:6432/pgbouncer --fail-on high
  pgtune pgbouncer --memory 16GB --cpus 8 --database booking --app-instances 20 --app-pool-size 25 --out-dir /etc/pgbouncer
  pgtune pgbouncer --detect --database booking --pooler-processes 4 --format table
  pgtune pgbouncer --memory 16GB --cpus 8 --database booking --server-host primary --replica-hosts replica1,replica2
`,
	run: runPgbouncer,
}

var pgbouncerFormats = []string{"ini", "sql", "json", "table", "markdown"}

// pgbouncerResult is pgbouncer's JSON document (docs/json.md).
type pgbouncerResult struct {
	*pgbouncer.Config
	Files    []string `json:"files,omitempty"`
	Detected []string `json:"detected,omitempty"`
}

type pgbouncerFlags struct {
	databases, serverHost, listenAddr, version, poolMode, authUser, adminUsers, statsUsers string
	replicaHosts                                                                           string
	runtimeDir, authFile, logDir, outDir, format, adminDSN                                 string
	serverPort, listenPort                                                                 int
	appTimeout                                                                             time.Duration
}

func (f *pgbouncerFlags) add(fs *flagSet) {
	fs.StringVar(&f.databases, "database", "", "database(s) to serve, comma-separated (required)")
	fs.StringVar(&f.serverHost, "server-host", "127.0.0.1", "PostgreSQL's host as PgBouncer reaches it")
	fs.IntVar(&f.serverPort, "server-port", 5432, "PostgreSQL's port")
	fs.StringVar(&f.replicaHosts, "replica-hosts", "", "the read replicas as PgBouncer reaches them (on --server-port), comma-separated: each database gets a read pool NAME_ro over them (implies --replicas N)")
	fs.StringVar(&f.listenAddr, "listen-addr", "*", "address PgBouncer listens on")
	fs.IntVar(&f.listenPort, "listen-port", 6432, "port PgBouncer listens on")
	fs.StringVar(&f.version, "pgbouncer-version", "1.23", "PgBouncer's version (settings it lacks are left out)")
	fs.StringVar(&f.poolMode, "pool-mode", "transaction", "transaction or session")
	fs.DurationVar(&f.appTimeout, "app-timeout", 30*time.Second, "how long the application waits for a query; PgBouncer's waits are set below it")
	fs.StringVar(&f.authUser, "auth-user", "pgbouncer_auth", "role PgBouncer uses to look passwords up")
	fs.StringVar(&f.adminUsers, "admin-users", "pgbouncer_admin", "roles that may administer PgBouncer, comma-separated")
	fs.StringVar(&f.statsUsers, "stats-users", "pgtune", "roles that may read SHOW POOLS/STATS, comma-separated")
	fs.StringVar(&f.runtimeDir, "runtime-dir", "/var/run/postgresql", "directory for pid files and Unix sockets")
	fs.StringVar(&f.authFile, "auth-file", "/etc/pgbouncer/userlist.txt", "userlist holding the auth user's password")
	fs.StringVar(&f.logDir, "log-dir", "/var/log/postgresql", "directory for log files")
	fs.StringVar(&f.outDir, "out-dir", "", "write pgbouncer.ini, pgbouncer-N.ini and auth_setup.sql into DIR (each atomically)")
	fs.StringVar(&f.format, "format", "ini", "without --out-dir: ini, sql (the auth set-up), json, table or markdown")
	fs.StringVar(&f.adminDSN, "admin-dsn", "", "read a running PgBouncer's admin console (e.g. postgres://pgtune@pgbouncer:6432/pgbouncer): report waiting clients, saturated pools and settings that differ")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runPgbouncer(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withFailOn()
	var inf instanceFlags
	inf.add(fs, true)
	var pf pgbouncerFlags
	pf.add(fs)
	if err := fs.parse(args, false); err != nil {
		return err
	}
	if !inf.pooler {
		return usageErrorf("pgbouncer: --pooler=false contradicts rendering PgBouncer; drop it")
	}
	if !slices.Contains(pgbouncerFormats, pf.format) {
		return usageErrorf("pgbouncer: unknown --format %q (want %s)", pf.format, strings.Join(pgbouncerFormats, ", "))
	}
	if pf.adminDSN != "" {
		return runPgbouncerAdmin(ctx, fs, &inf, &pf)
	}
	dbs := splitList(pf.databases)
	if len(dbs) == 0 {
		return usageErrorf("pgbouncer: --database is required (e.g. --database booking)")
	}
	for _, db := range dbs {
		if strings.ContainsAny(db, " =;'\"\n") {
			return usageErrorf("pgbouncer: --database %q: a name without spaces, quotes, = or ;", db)
		}
	}
	if pf.outDir != "" {
		if st, err := os.Stat(pf.outDir); err != nil || !st.IsDir() {
			return usageErrorf("pgbouncer: --out-dir %s is not a directory; create it first", pf.outDir)
		}
	}
	replicaHosts := splitList(pf.replicaHosts)
	if len(replicaHosts) > 0 && inf.replicas == 0 {
		inf.replicas = len(replicaHosts)
	}
	if inf.replicas > 0 && len(replicaHosts) != inf.replicas {
		return usageErrorf("pgbouncer: --replicas %d: name each replica with --replica-hosts (e.g. --replica-hosts replica1,replica2); %d named", inf.replicas, len(replicaHosts))
	}
	in, detected, err := inf.instance(fs, 0)
	if err != nil {
		return err
	}
	if in.Pools == 0 || in.Pools == 1 {
		in.Pools = max(in.Pools, len(dbs)) // one pool per database at least
	}
	cfg, err := pgconf.Recommend(in)
	if err != nil {
		return usageFromModel(cmd.name, err)
	}
	rendered, err := pgbouncer.Render(cfg, pgbouncerOptions(&pf, dbs))
	if err != nil {
		return pgbouncerUsage(err)
	}
	tool, command := "pgtune "+Version(), commandLine("pgbouncer", args)
	res := pgbouncerResult{Config: rendered, Detected: detected}
	if pf.outDir != "" {
		files := map[string]func(io.Writer) error{
			"pgbouncer.ini":  func(w io.Writer) error { return pgbouncer.WriteINI(w, rendered, tool, command) },
			"auth_setup.sql": func(w io.Writer) error { return pgbouncer.WriteAuthSQL(w, rendered) },
		}
		for i := range rendered.Processes {
			n := i + 1
			files[fmt.Sprintf("pgbouncer-%d.ini", n)] = func(w io.Writer) error { return pgbouncer.WriteProcessINI(w, rendered, n) }
		}
		for _, name := range sortedKeys(files) {
			path := filepath.Join(pf.outDir, name)
			if err := atomicfile.Write(path, 0o644, files[name]); err != nil {
				return err
			}
			res.Files = append(res.Files, path)
		}
		f, _ := report.ParseFormat("table")
		if pf.format == "json" || pf.format == "markdown" {
			f, _ = report.ParseFormat(pf.format)
		}
		return report.Write(e.stdout, f, report.Output{Command: "pgbouncer", Version: Version(), Data: res, Tables: []report.Table{{
			Title: "Written", Columns: []string{"file"}, Rows: rowsOf(res.Files),
			Note: "Run auth_setup.sql with psql as a superuser, set the auth user's password in both places, then start PgBouncer.",
		}}})
	}
	switch pf.format {
	case "ini":
		return pgbouncer.WriteINI(e.stdout, rendered, tool, command)
	case "sql":
		return pgbouncer.WriteAuthSQL(e.stdout, rendered)
	}
	f, _ := report.ParseFormat(pf.format)
	return report.Write(e.stdout, f, report.Output{Command: "pgbouncer", Version: Version(), Data: res, Tables: pgbouncerTables(cfg, rendered), Width: terminalWidth(e)})
}

func rowsOf(items []string) [][]string {
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = []string{it}
	}
	return rows
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func pgbouncerTables(cfg *pgconf.Config, r *pgbouncer.Config) []report.Table {
	rows := make([][]string, 0, len(r.Settings))
	for _, s := range r.Settings {
		rows = append(rows, []string{s.Name, s.Value, s.Reason})
	}
	tables := []report.Table{
		{Title: "pgbouncer.ini for " + conffile.Describe(cfg.Instance), Columns: []string{"setting", "value", "reason"}, Rows: rows},
		connectionBudgetTable(cfg.Connections),
	}
	if len(r.Checklist) > 0 {
		tables = append(tables, report.Table{Title: "Transaction pooling: check the application does not rely on", Columns: []string{"item"}, Rows: rowsOf(r.Checklist)})
	}
	if len(r.Notes) > 0 {
		tables = append(tables, report.Table{Title: "Notes", Columns: []string{"note"}, Rows: rowsOf(r.Notes)})
	}
	return tables
}

// pgbouncerAdminResult is pgbouncer --admin-dsn's JSON document (docs/json.md).
type pgbouncerAdminResult struct {
	Admin    *pgbouncer.AdminState `json:"admin"`
	Findings []finding.Finding     `json:"findings"`
}

// runPgbouncerAdmin reads a running PgBouncer and reports on it; with the instance flags it also
// compares its settings with the rendered ones.
func runPgbouncerAdmin(ctx context.Context, fs *flagSet, inf *instanceFlags, pf *pgbouncerFlags) error {
	var rendered *pgbouncer.Config
	if inf.memory != "" || inf.detect {
		in, _, err := inf.instance(fs, 0)
		if err != nil {
			return err
		}
		cfg, err := pgconf.Recommend(in)
		if err != nil {
			return usageFromModel("pgbouncer", err)
		}
		if rendered, err = pgbouncer.Render(cfg, pgbouncerOptions(pf, splitList(pf.databases))); err != nil {
			return pgbouncerUsage(err)
		}
	}
	fs.e.redactor.Add(pf.adminDSN)
	cc, err := connect.ParseConfig(pf.adminDSN, connect.SourceFlag)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	fs.e.redactor.Add(cc.Password)
	// The admin console speaks only the simple query protocol.
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	delete(cc.RuntimeParams, "application_name")
	conn, err := connect.Connect(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	st, err := pgbouncer.ReadAdmin(ctx, conn)
	if err != nil {
		return fmt.Errorf("pgbouncer: read the admin console at %s: %w (the user must be in stats_users or admin_users)", connect.Describe(cc), err)
	}
	findings := pgbouncer.Findings(st, rendered)
	if findings == nil {
		findings = []finding.Finding{}
	}
	var frows, prows [][]string
	for _, f := range findings {
		frows = append(frows, []string{f.Severity.String(), f.Title, f.Evidence.String(), f.Fix()})
	}
	for _, p := range st.Pools {
		prows = append(prows, []string{p["database"], p["user"], p["cl_active"], p["cl_waiting"], p["sv_active"], p["sv_idle"], fmt.Sprintf("%.1f", float64(p.Int("maxwait"))+float64(p.Int("maxwait_us"))/1e6), p["pool_mode"]})
	}
	format := report.FormatTable // ini and sql mean nothing here
	if f, err := report.ParseFormat(pf.format); err == nil {
		format = f
	}
	note := "Nothing to report."
	if len(findings) > 0 {
		note = fmt.Sprintf("%d finding(s).", len(findings))
	}
	err = report.Write(fs.e.stdout, format, report.Output{Command: "pgbouncer", Version: Version(), Data: pgbouncerAdminResult{Admin: st, Findings: findings}, Width: terminalWidth(fs.e),
		Tables: []report.Table{
			{Title: "Findings on " + st.Version, Columns: []string{"severity", "finding", "evidence", "fix"}, Rows: frows, Note: note},
			{Title: "Pools", Columns: []string{"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "maxwait (s)", "mode"}, Rows: prows},
		}})
	if err != nil {
		return err
	}
	if fs.failOnThreshold().Trips(findings) {
		return errFindings
	}
	return nil
}

// optionFlags are the flags that set pgbouncer.Options' fields, to name them in errors.
var optionFlags = map[string]string{
	"Databases": "--database", "AuthUser": "--auth-user", "AdminUsers": "--admin-users", "StatsUsers": "--stats-users",
	"ServerHost": "--server-host", "ReplicaHosts": "--replica-hosts", "ListenAddr": "--listen-addr", "RuntimeDir": "--runtime-dir", "LogDir": "--log-dir", "AuthFile": "--auth-file",
}

// pgbouncerUsage turns a refused rendering into a usage error naming the flag.
func pgbouncerUsage(err error) error {
	if oe, ok := errors.AsType[*pgbouncer.OptionError](err); ok {
		return usageErrorf("pgbouncer: %s %q: want %s (it is written into pgbouncer.ini and auth_setup.sql as is)", optionFlags[oe.Option], oe.Value, oe.Want)
	}
	return usageErrorf("pgbouncer: %w", err)
}

func pgbouncerOptions(pf *pgbouncerFlags, dbs []string) pgbouncer.Options {
	return pgbouncer.Options{
		Databases: dbs, ServerHost: pf.serverHost, ServerPort: pf.serverPort, ReplicaHosts: splitList(pf.replicaHosts),
		ListenAddr: pf.listenAddr, ListenPort: pf.listenPort, Version: pf.version, PoolMode: pf.poolMode,
		AppTimeout: pf.appTimeout, AuthUser: pf.authUser,
		AdminUsers: splitList(pf.adminUsers), StatsUsers: splitList(pf.statsUsers),
		RuntimeDir: pf.runtimeDir, AuthFile: pf.authFile, LogDir: pf.logDir,
	}
}
