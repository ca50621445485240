// Package pgbouncer renders PgBouncer's configuration from pgtune's instance model — the same
// pgconf.Config that sizes postgresql.conf, so the pools and max_connections come from one
// connection budget and cannot drift apart — and reads a running PgBouncer's admin console.
//
// render.go holds the sizing and the ini text; auth.go the auth_query set-up (a SECURITY
// DEFINER function with a fixed search_path); admin.go the SHOW POOLS / SHOW STATS reader and
// its findings.
package pgbouncer

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/pgconf"
	"github.com/bookedbarber/pgtune/pgconf/conffile"
)

// Options are what the instance model does not say about PgBouncer's place.
type Options struct {
	// Databases are the databases PgBouncer serves (at least one).
	Databases []string
	// ServerHost and ServerPort locate PostgreSQL as PgBouncer reaches it.
	ServerHost string
	ServerPort int
	// ReplicaHosts are the read replicas as PgBouncer reaches them (on ServerPort): with them,
	// each database gets a read pool, NAME_ro, whose host list names every replica.
	ReplicaHosts []string
	// ListenAddr and ListenPort are where clients connect.
	ListenAddr string
	ListenPort int
	// Version is PgBouncer's version ("1.23"); settings it lacks are not rendered.
	Version string
	// PoolMode is "transaction" (the default) or "session".
	PoolMode string
	// AppTimeout is how long the application waits for a query before giving up; PgBouncer's
	// timeouts are set below it so queued requests fail while the app still listens.
	AppTimeout time.Duration
	// AuthUser is the role PgBouncer logs in as to look passwords up (auth_query).
	AuthUser string
	// AdminUsers and StatsUsers may use the admin console.
	AdminUsers, StatsUsers []string
	// RuntimeDir holds pid files and Unix sockets (per process with so_reuseport).
	RuntimeDir string
	// AuthFile is the userlist PgBouncer reads the auth user's password from.
	AuthFile string
	// LogDir holds the log files.
	LogDir string
}

// The values pgtune writes into pgbouncer.ini (a line-based file whose parser has no quoting for
// values) and into auth_setup.sql (a psql script). Anything outside these shapes is refused, not
// escaped: a newline would start a setting of its own (a later auth_type = trust wins), a ';' or
// '#' a comment, a '\' a psql command.
var (
	// iniName is a database or role name: PgBouncer's lists split on commas and spaces.
	iniName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$.-]{0,62}$`)
	// iniHost is a host name, an IP address (v4 or v6) or a Unix socket directory.
	iniHost = regexp.MustCompile(`^(/[A-Za-z0-9._/@+-]*|[A-Za-z0-9._:-]{1,253})$`)
	// iniReplicaHost is one replica of a host list: a name or an address, no socket, no comma.
	iniReplicaHost = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,253}$`)
	// iniListen is listen_addr: *, or host names and addresses separated by commas.
	iniListen = regexp.MustCompile(`^(\*|[A-Za-z0-9._:-]{1,253})(,(\*|[A-Za-z0-9._:-]{1,253}))*$`)
	// iniPath is an absolute path (the pid, log and auth files).
	iniPath = regexp.MustCompile(`^/[A-Za-z0-9._/@+-]*$`)
)

// OptionError is an Options value refused because it would not stay one value in the files.
type OptionError struct {
	Option string // the Options field: "AuthUser", "Databases", ...
	Value  string
	Want   string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%s %q: want %s (it is written into pgbouncer.ini as is)", e.Option, e.Value, e.Want)
}

// validate refuses a value that would not stay one value in pgbouncer.ini or auth_setup.sql.
func (o Options) validate() error {
	const names = "a name of letters, digits, _ $ . - that starts with a letter or _"
	const path = "an absolute path of letters, digits and . _ / @ + -"
	checks := []struct {
		option string
		values []string
		re     *regexp.Regexp
		want   string
	}{
		{"Databases", o.Databases, iniName, names},
		{"AuthUser", []string{o.AuthUser}, iniName, names},
		{"AdminUsers", o.AdminUsers, iniName, names},
		{"StatsUsers", o.StatsUsers, iniName, names},
		{"ServerHost", []string{o.ServerHost}, iniHost, "a host name, an IP address or a socket directory"},
		{"ReplicaHosts", o.ReplicaHosts, iniReplicaHost, "a host name or an IP address (no commas: the list is PgBouncer's)"},
		{"ListenAddr", []string{o.ListenAddr}, iniListen, "*, or host names and addresses separated by commas"},
		{"RuntimeDir", []string{o.RuntimeDir}, iniPath, path},
		{"LogDir", []string{o.LogDir}, iniPath, path},
		{"AuthFile", []string{o.AuthFile}, iniPath, path},
	}
	for _, c := range checks {
		for _, v := range c.values {
			if !c.re.MatchString(v) {
				return &OptionError{Option: c.option, Value: v, Want: c.want}
			}
		}
	}
	return nil
}

// Setting is one PgBouncer parameter with its reason.
type Setting struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// Config is a rendered PgBouncer configuration.
type Config struct {
	Options Options           `json:"options"`
	Sizing  pgconf.PoolSizing `json:"sizing"`
	// ReadPool sizes each database's read pool (NAME_ro) on the replicas, when there are any.
	ReadPool *pgconf.PoolSizing `json:"read_pool,omitempty"`
	Settings []Setting          `json:"settings"`
	// Processes are the per-process settings when so_reuseport runs several (one file each).
	Processes [][]Setting `json:"processes,omitempty"`
	// Budget is the connection budget postgresql.conf's max_connections was sized from.
	Budget pgconf.ConnectionBudget `json:"budget"`
	// Checklist is what breaks under transaction pooling.
	Checklist []string `json:"checklist"`
	Notes     []string `json:"notes"`
}

// Get returns a setting's value ("" when not rendered).
func (c *Config) Get(name string) string {
	for _, s := range c.Settings {
		if s.Name == name {
			return s.Value
		}
	}
	return ""
}

// TransactionPoolingChecklist is what an application must not rely on under transaction pooling:
// a server connection is its own only for one transaction.
var TransactionPoolingChecklist = []string{
	"SET / RESET of session settings: use SET LOCAL inside the transaction, ALTER ROLE/DATABASE ... SET, or startup parameters",
	"LISTEN: a listener needs its own session; connect it directly or through a session-mode pool (NOTIFY works)",
	"SQL PREPARE / EXECUTE / DEALLOCATE: use the protocol-level prepared statements drivers use (max_prepared_statements, PgBouncer 1.21+)",
	"session-level advisory locks (pg_advisory_lock): use pg_advisory_xact_lock, or connect directly (pgtune migrate and maintain do)",
	"temporary tables that outlive a transaction (ON COMMIT PRESERVE/DELETE ROWS): only ON COMMIT DROP works",
	"WITH HOLD cursors and LOAD: keep them to direct connections",
}

// parseVersion reads "1.23" or "1.23.1" as 123.
func parseVersion(v string) (int, error) {
	parts := strings.Split(strings.TrimSpace(v), ".")
	if len(parts) < 2 {
		return 0, fmt.Errorf("PgBouncer version %q: want MAJOR.MINOR, e.g. 1.23", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major != 1 || minor < 12 || minor > 99 {
		return 0, fmt.Errorf("PgBouncer version %q: want 1.12 or newer, e.g. 1.23", v)
	}
	return major*100 + minor, nil
}

// Render sizes PgBouncer for cfg, which must have been recommended with a pooler.
func Render(cfg *pgconf.Config, o Options) (*Config, error) {
	ps := cfg.Connections.Pooler
	if ps == nil {
		return nil, fmt.Errorf("the instance has no pooler: size it with the pooler in front")
	}
	ver, err := parseVersion(o.Version)
	if err != nil {
		return nil, err
	}
	if len(o.Databases) == 0 {
		return nil, fmt.Errorf("no database to serve: name at least one")
	}
	if o.PoolMode != "transaction" && o.PoolMode != "session" {
		return nil, fmt.Errorf("pool mode %q: want transaction or session", o.PoolMode)
	}
	if o.AppTimeout < 2*time.Second {
		return nil, fmt.Errorf("application timeout %v: want at least 2s", o.AppTimeout)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	rb := cfg.Connections.Replica
	switch {
	case len(o.ReplicaHosts) > 0 && (rb == nil || rb.ReadPool == nil):
		return nil, fmt.Errorf("%d replica host(s) but the instance was sized without replicas: size it with as many replicas", len(o.ReplicaHosts))
	case rb != nil && len(o.ReplicaHosts) != rb.Replicas:
		return nil, fmt.Errorf("the instance was sized for %d replicas but %d replica host(s) are named: name each replica once", rb.Replicas, len(o.ReplicaHosts))
	case len(o.ReplicaHosts) > 0 && ver < 117:
		return nil, fmt.Errorf("PgBouncer %s has no host lists (1.15 takes \"a,b\" for one host name; they came with 1.17): upgrade, or give the replicas one DNS name PgBouncer resolves round-robin", o.Version)
	}
	r := &Config{Options: o, Sizing: *ps, Budget: cfg.Connections, Notes: []string{}}
	if rb != nil {
		r.ReadPool = rb.ReadPool
	}
	set := func(name, value, reason string) {
		r.Settings = append(r.Settings, Setting{Name: name, Value: value, Reason: reason})
	}
	secs := func(d time.Duration) string { return strconv.Itoa(int(d.Round(time.Second) / time.Second)) }

	set("listen_addr", o.ListenAddr, "where the application connects")
	set("listen_port", strconv.Itoa(o.ListenPort), "")
	set("listen_backlog", "4096", "a connection storm (every app instance restarting) queues instead of being refused; raise net.core.somaxconn to match")
	set("unix_socket_dir", o.RuntimeDir, "")
	set("auth_type", "scram-sha-256", "no MD5: clients prove the password without sending it")
	set("auth_file", o.AuthFile, "holds only the auth user's entry; every other role's secret comes from auth_query")
	set("auth_user", o.AuthUser, "a non-superuser that may only call the lookup function")
	set("auth_query", "SELECT uname, phash FROM pgbouncer.user_lookup($1)", "a SECURITY DEFINER function with a fixed search_path that honours VALID UNTIL (auth_setup.sql creates it in every database)")
	if len(o.AdminUsers) > 0 {
		set("admin_users", strings.Join(o.AdminUsers, ","), "may PAUSE, RELOAD and SHUTDOWN")
	}
	if len(o.StatsUsers) > 0 {
		set("stats_users", strings.Join(o.StatsUsers, ","), "may read SHOW POOLS/STATS (pgtune pgbouncer --admin-dsn, exporters)")
	}

	mode := "transaction: a server connection serves a client for one transaction, so a few serve thousands (see the checklist)"
	if o.PoolMode == "session" {
		mode = "session: a client keeps its server connection until it disconnects; the pools bound clients one to one"
	}
	set("pool_mode", o.PoolMode, mode)
	set("default_pool_size", strconv.Itoa(ps.DefaultPoolSize), fmt.Sprintf("2 × %d cores%s = %d busy server connections, over %d host(s) × %d process(es)",
		cfg.Instance.CPUs, spindleNote(cfg.Instance.Storage), ps.ActiveTarget, ps.Hosts, ps.Processes))
	set("reserve_pool_size", strconv.Itoa(ps.ReservePoolSize), "a quarter more for bursts, counted in the connection budget")
	set("reserve_pool_timeout", "3", "a client waits 3 s before the reserve opens")
	set("max_db_connections", strconv.Itoa(ps.MaxDBConnections), "caps each database's server connections in this process, whatever the users: the budget holds even with more users than planned")
	if rp := r.ReadPool; rp != nil {
		set("max_client_conn", strconv.Itoa(ps.MaxClientConn+rp.MaxClientConn), fmt.Sprintf("the application's %d write and %d read connections × 1.25, over %d process(es) × %d host(s)",
			cfg.Connections.ClientConnections, rb.ClientConnections, ps.Processes, ps.Hosts))
	} else {
		set("max_client_conn", strconv.Itoa(ps.MaxClientConn), fmt.Sprintf("the application's %d connections × 1.25, over %d process(es) × %d host(s)", cfg.Connections.ClientConnections, ps.Processes, ps.Hosts))
	}
	if o.PoolMode == "session" {
		set("server_reset_query", "DISCARD ALL", "a session's state must not leak to the next client")
	}

	wait := o.AppTimeout * 2 / 3
	set("query_wait_timeout", secs(wait), fmt.Sprintf("two thirds of the application's %v timeout: a queued request fails while the app still listens (never 0: it would queue forever)", o.AppTimeout))
	set("idle_transaction_timeout", secs(o.AppTimeout), "a transaction idle longer than the app would wait for it holds a server connection for nothing")
	set("server_idle_timeout", "300", "close server connections idle 5 min: backends give back their memory")
	set("server_lifetime", "3600", "recycle a server connection after an hour, when it is next idle: bounds backend memory growth")
	set("server_connect_timeout", "5", "")
	set("server_login_retry", "3", "after a failed server login clients see errors for this long (15 s by default)")
	set("query_timeout", "0", "no proxy-side query timeout: set statement_timeout on the server, where a cancel is clean")
	set("tcp_keepalive", "1", "")
	set("tcp_keepidle", "60", "detect dead peers in about two minutes, below load balancers' idle timeouts (often 350 s)")
	set("tcp_keepintvl", "10", "")
	set("tcp_keepcnt", "6", "")
	set("ignore_startup_parameters", "extra_float_digits", "JDBC and some ORMs send it; PgBouncer would refuse them")
	if ver >= 121 && o.PoolMode == "transaction" {
		set("max_prepared_statements", "200", "protocol-level prepared statements survive transaction pooling (1.21+); 200 per server connection")
	} else if o.PoolMode == "transaction" {
		r.Notes = append(r.Notes, fmt.Sprintf("PgBouncer %s predates max_prepared_statements (1.21): drivers must not use protocol-level prepared statements (pgx: default_query_exec_mode=exec; JDBC: prepareThreshold=0).", o.Version))
	}
	if ps.Processes > 1 && ver < 119 {
		return nil, fmt.Errorf("%d processes on one port need PgBouncer 1.19+ (peers route cancel requests between them); PgBouncer %s: use one process, or upgrade", ps.Processes, o.Version)
	}
	if ps.Processes > 1 {
		set("so_reuseport", "1", fmt.Sprintf("%d processes share the port, one core each: PgBouncer is single-threaded", ps.Processes))
		for i := 1; i <= ps.Processes; i++ {
			dir := fmt.Sprintf("%s/%d", o.RuntimeDir, i)
			r.Processes = append(r.Processes, []Setting{
				{"peer_id", strconv.Itoa(i), "cancel requests reach the process that owns the query"},
				{"unix_socket_dir", dir, "each process its own socket directory"},
				{"pidfile", dir + "/pgbouncer.pid", ""},
				{"logfile", fmt.Sprintf("%s/pgbouncer-%d.log", o.LogDir, i), ""},
			})
		}
		r.Notes = append(r.Notes, fmt.Sprintf("Limits and SHOW output are per process: each of the %d processes has its own pools and max_client_conn; monitor each through its own unix_socket_dir.", ps.Processes))
	} else {
		set("pidfile", o.RuntimeDir+"/pgbouncer.pid", "")
		set("logfile", o.LogDir+"/pgbouncer.log", "")
	}
	fds := ps.FileDescriptors
	if rp := r.ReadPool; rp != nil {
		fds += rp.FileDescriptors
		r.Notes = append(r.Notes, fmt.Sprintf("Reads go to %s_ro (one per database): its host list names the %d replicas, and each new server connection goes to the next one in turn. PgBouncer does not skip a replica that is down (half its new connections would fail): take it out of the list and RELOAD. Each replica's max_connections holds the whole read pool with one replica out.",
			o.Databases[0], len(o.ReplicaHosts)))
	}
	r.Notes = append(r.Notes, fmt.Sprintf("Each process needs %d open files (max_client_conn + its server connections + 64): LimitNOFILE=%d in the systemd unit, or ulimit -n.", fds, fds))
	if o.PoolMode == "transaction" {
		r.Checklist = TransactionPoolingChecklist
	}
	return r, nil
}

func spindleNote(s pgconf.Storage) string {
	switch s {
	case pgconf.StorageHDD:
		return " + 2 spindles"
	case pgconf.StorageSAN:
		return " + 1 spindle"
	}
	return ""
}

// WriteINI writes pgbouncer.ini: the budget and the checklist as comments, [databases] and
// [pgbouncer]. With so_reuseport, [peers] lists every process's socket.
func WriteINI(w io.Writer, c *Config, tool, command string) error {
	return writeINI(w, c, tool, command, 0)
}

// WriteProcessINI writes the file so_reuseport process i (1-based) starts with: the whole
// configuration with its own socket directory, pid file, log file and peer id. It is complete in
// itself: a file that %includes pgbouncer.ini and then opens [pgbouncer] again loses the included
// listen_addr (PgBouncer 1.26 then listens on its Unix socket only: seen on a real server).
func WriteProcessINI(w io.Writer, c *Config, i int) error {
	if i < 1 || i > len(c.Processes) {
		return fmt.Errorf("process %d of %d", i, len(c.Processes))
	}
	return writeINI(w, c, "", "", i)
}

func writeINI(w io.Writer, c *Config, tool, command string, process int) error {
	var b strings.Builder
	if process > 0 {
		fmt.Fprintf(&b, ";; PgBouncer process %d of %d (so_reuseport): start with pgbouncer pgbouncer-%d.ini\n", process, len(c.Processes), process)
		b.WriteString(";; The same configuration as pgbouncer.ini, with this process's socket directory, pid file, log file and peer id.\n")
	} else {
		fmt.Fprintf(&b, ";; pgbouncer.ini from %s\n", tool)
		if command != "" {
			fmt.Fprintf(&b, ";;   %s\n", command)
		}
		b.WriteString(";; Sized from the same model as postgresql.conf (pgtune config with the same flags):\n;;\n")
		for _, l := range conffile.ConnectionBudgetLines(c.Budget) {
			fmt.Fprintf(&b, ";; %s\n", l)
		}
		if len(c.Checklist) > 0 {
			b.WriteString(";;\n;; Transaction pooling: check the application does not rely on\n")
			for _, item := range c.Checklist {
				fmt.Fprintf(&b, ";;   [ ] %s\n", item)
			}
		}
		if len(c.Notes) > 0 {
			b.WriteString(";;\n;; Notes:\n")
			for _, n := range c.Notes {
				fmt.Fprintf(&b, ";;   - %s\n", n)
			}
		}
	}
	b.WriteString("\n[databases]\n")
	for _, db := range c.Options.Databases {
		fmt.Fprintf(&b, "%s = host=%s port=%d dbname=%s\n", db, c.Options.ServerHost, c.Options.ServerPort, db)
	}
	if rp := c.ReadPool; rp != nil {
		ver, _ := parseVersion(c.Options.Version)
		balance := ""
		if ver >= 124 {
			balance = " load_balance_hosts=round-robin"
		}
		b.WriteString("; read pools: the replicas, each new server connection to the next in turn\n")
		for _, db := range c.Options.Databases {
			fmt.Fprintf(&b, "%s_ro = host=%s port=%d dbname=%s pool_size=%d reserve_pool=%d max_db_connections=%d%s\n", db, strings.Join(c.Options.ReplicaHosts, ","),
				c.Options.ServerPort, db, rp.DefaultPoolSize, rp.ReservePoolSize, rp.MaxDBConnections, balance)
		}
	}
	b.WriteString("\n[pgbouncer]\n")
	settings := c.Settings
	if process > 0 {
		own := c.Processes[process-1]
		settings = nil
		for _, s := range c.Settings {
			if !slices.ContainsFunc(own, func(o Setting) bool { return o.Name == s.Name }) {
				settings = append(settings, s)
			}
		}
		settings = append(settings, own...)
	}
	writeSettings(&b, settings)
	if len(c.Processes) > 0 {
		b.WriteString("\n[peers]\n")
		for i := range c.Processes {
			fmt.Fprintf(&b, "%d = host=%s/%d port=%d\n", i+1, c.Options.RuntimeDir, i+1, c.Options.ListenPort)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSettings writes each setting with its reason on the comment line above: PgBouncer's ini
// parser has no trailing comments (a ';' after a value would become part of it).
func writeSettings(b *strings.Builder, settings []Setting) {
	for _, s := range settings {
		if s.Reason != "" {
			fmt.Fprintf(b, "; %s\n", s.Reason)
		}
		fmt.Fprintf(b, "%s = %s\n", s.Name, s.Value)
	}
}
