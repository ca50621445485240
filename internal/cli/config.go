package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/atomicfile"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/pgconf"
	"github.com/bookedbarber/pgtune/pgconf/conffile"
)

var configCmd = &command{
	name:    "config",
	summary: "render postgresql.conf settings from the instance's size and workload",
	help: `Usage: pgtune config --memory SIZE --cpus N [flags]
       pgtune config --detect [flags]

Sizes every setting that matters — memory, WAL and checkpoints, planner costs for the storage,
parallelism, autovacuum, huge pages and the observability pgtune advise needs — for the
instance described by the flags (or read from this host with --detect, which honours container
and Kubernetes limits). Every value carries a one-line reason.

The connection budget (what holds server connections: the application or PgBouncer's pools,
migrations, maintenance, monitoring, the superuser reserve) sets max_connections, and the
memory budget proves the worst case — every backend sorting and hashing at once, every
autovacuum worker and two maintenance sessions at full memory, plus shared memory — fits the
RAM. When it would not, pgtune lowers maintenance memory, then the connections it chose itself,
then work_mem, and says so; connections you fixed are never lowered (it fails instead, naming
the flag to change). 'pgtune pgbouncer' prints the same connection budget.

With --dsn (or --live, for DATABASE_URL and the PG* variables) pgtune reads the server, read-only:
its version, its settings, and its evidence — requested against timed checkpoints and the WAL
volume (max_wal_size), temporary files (work_mem), the buffer cache hit ratio (shared_buffers),
autovacuum's lag and the oldest transaction ID's age (autovacuum workers), the connections in use
(the budget). Where the evidence disagrees with the heuristics, the evidence wins within the
memory budget, and the reason says so. The output then lists what would change on that server and
which changes need a restart.

With --replicas N the primary feeds N streaming read replicas of the same size: one file serves
every node (a replication group: WAL senders and slots, hot_standby_feedback and
max_standby_streaming_delay by profile), and max_connections covers a replica's share of the
reads (--app-read-pool-size) with one replica out as well as the primary's budget. With --dsn on
a primary that streams to replicas, their number is read from pg_stat_replication.

Formats (--format): conf, a postgresql.conf include file (the default); sql, ALTER SYSTEM
statements; json; table or markdown, the settings with their reasons for reading. --out FILE
writes the file atomically (complete or not at all).

Examples:
  pgtune config --memory 16GB --cpus 4 --storage ssd --profile web > /etc/postgresql/17/main/conf.d/pgtune.conf
  pgtune config --detect --profile oltp --pooler --app-instances 12 --app-pool-size 20
  pgtune config --memory 64GB --cpus 16 --profile dw --pg-version 16 --format sql | psql
  pgtune config --dsn postgres://dba@db.internal/booking --memory 32GB --cpus 8 --format table
`,
	run: runConfig,
}

// configResult is config's JSON document (docs/json.md).
type configResult struct {
	*pgconf.Config
	// Detected says what --detect read from the host.
	Detected []string `json:"detected,omitempty"`
	// Live is the comparison with the server (--dsn / --live).
	Live *liveConfig `json:"live,omitempty"`
}

// liveConfig is what config read from a live server and what it would change there.
type liveConfig struct {
	Server  string          `json:"server"`
	Changes []pgconf.Change `json:"changes"`
	Signals []pgconf.Signal `json:"signals"`
}

// configFormats are config's --format values; conf and sql are files, the rest reports.
var configFormats = []string{"conf", "sql", "json", "table", "markdown", "html"}

func runConfig(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection()
	var inf instanceFlags
	inf.add(fs, false)
	live := fs.Bool("live", false, "read the server named by DATABASE_URL or the PG* variables (as --dsn does): size with its evidence and show what would change")
	format := fs.String("format", "conf", "output: conf (postgresql.conf include), sql (ALTER SYSTEM), json, table, markdown or html (a page with the budgets drawn)")
	out := fs.String("out", "", "write to FILE (atomically) instead of stdout")
	strict := fs.Bool("strict-memory", false, "fail (exit 1, nothing written) when the worst-case memory cannot be proven to fit, instead of rendering the tightest configuration with a warning")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	if !slices.Contains(configFormats, *format) {
		return usageErrorf("config: unknown --format %q (want %s)", *format, strings.Join(configFormats, ", "))
	}
	if err := checkOut(cmd.name, *out); err != nil {
		return err
	}
	var snap *dbstate.Snapshot
	serverMajor := 0
	if fs.dsn != "" || *live {
		var err error
		if snap, err = readLiveServer(ctx, fs); err != nil {
			return err
		}
		serverMajor = snap.Server.VersionNum / 10000
		if serverMajor > pgconf.MaxVersion {
			return fmt.Errorf("config: the server runs PostgreSQL %d; pgtune sizes 13 to %d", serverMajor, pgconf.MaxVersion)
		}
	}
	// A primary streaming to replicas: size the cluster, unless --replicas says otherwise.
	streaming := snap != nil && snap.StreamingReplicas > 0 && !fs.isSet("replicas")
	if streaming {
		inf.replicas = snap.StreamingReplicas
	}
	in, detected, err := inf.instance(fs, serverMajor)
	if err != nil {
		return err
	}
	if streaming {
		detected = append(detected, fmt.Sprintf("%d streaming replica(s) from pg_stat_replication: sized for the cluster (--replicas 0 sizes the primary alone)", snap.StreamingReplicas))
	}
	res := configResult{Detected: detected}
	if snap == nil {
		res.Config, err = pgconf.Recommend(in)
	} else {
		var signals []pgconf.Signal
		res.Config, signals, err = pgconf.RecommendLive(in, snap)
		if err == nil {
			res.Live = &liveConfig{Server: fmt.Sprintf("PostgreSQL %s, database %s", snap.Server.Version, snap.Server.Database),
				Changes: pgconf.Diff(res.Config, snap), Signals: signals}
			if res.Live.Signals == nil {
				res.Live.Signals = []pgconf.Signal{}
			}
		}
	}
	if err != nil {
		return usageFromModel(cmd.name, err)
	}
	if over := res.Config.Memory.OverBy; over > 0 {
		msg := fmt.Sprintf("config: the worst case needs %s more than the %s available (%d backends): %s",
			pgconf.HumanBytes(over), pgconf.HumanBytes(res.Config.Memory.Available), res.Config.Memory.Backends,
			"put PgBouncer in front (--pooler), lower --max-connections or --app-pool-size, or give more memory")
		if *strict {
			return &exitError{code: ExitFindings, err: errors.New(msg + "; nothing written (--strict-memory)")}
		}
		log, _ := fs.logger()
		log.Warn(msg + "; rendering the tightest configuration pgtune can (see its notes; --strict-memory makes this an error)")
	}
	return writeOut(e, *out, func(w io.Writer) error {
		return renderConfig(w, fs, *format, res, args)
	})
}

// readLiveServer reads the settings, the server-wide evidence and the tables' statistics (not
// pg_stat_statements, not data values) in one read-only transaction.
func readLiveServer(ctx context.Context, fs *flagSet) (*dbstate.Snapshot, error) {
	log, _ := fs.logger()
	conn, cfg, err := fs.connect(ctx, log)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	snap, err := collect.Collect(ctx, conn, collect.Options{Light: true, PgtuneVersion: Version(), Log: log})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", connect.Describe(cfg), err)
	}
	return snap, nil
}

// checkOut refuses an --out that names a directory before any work is done.
func checkOut(cmd, out string) error {
	if out == "" {
		return nil
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return usageErrorf("%s: --out %s is a directory; name a file", cmd, out)
	}
	return nil
}

// writeOut writes to stdout, or atomically to out.
func writeOut(e *env, out string, fill func(io.Writer) error) error {
	if out == "" {
		return fill(e.stdout)
	}
	return atomicfile.Write(out, 0o644, fill)
}

func renderConfig(w io.Writer, fs *flagSet, format string, res configResult, args []string) error {
	h := conffile.Header{Tool: "pgtune " + Version(), Command: commandLine("config", args)}
	switch format {
	case "conf":
		if err := writeDetected(w, "# ", res.Detected); err != nil {
			return err
		}
		if err := writeLive(w, "# ", res.Live); err != nil {
			return err
		}
		return conffile.WriteConf(w, res.Config, h)
	case "sql":
		if err := writeDetected(w, "-- ", res.Detected); err != nil {
			return err
		}
		if err := writeLive(w, "-- ", res.Live); err != nil {
			return err
		}
		return conffile.WriteSQL(w, res.Config, h)
	}
	f, _ := report.ParseFormat(format)
	width := 0
	if w == fs.e.stdout {
		width = terminalWidth(fs.e) // a file (--out) keeps every line whole
	}
	return report.Write(w, f, report.Output{Command: "config", Version: Version(), Data: res, Tables: configTables(res), Width: width})
}

// writeLive writes, as comments, what the live server said and what the file would change there.
func writeLive(w io.Writer, prefix string, live *liveConfig) error {
	if live == nil {
		return nil
	}
	var b strings.Builder
	changed, restart := 0, 0
	for _, c := range live.Changes {
		if c.Differs {
			changed++
			if c.Restart {
				restart++
			}
		}
	}
	fmt.Fprintf(&b, "%sLive server: %s. This file changes %d of its settings (%d need a restart):\n", prefix, quote.OneLine(live.Server), changed, restart)
	for _, c := range live.Changes {
		if c.Differs {
			r := ""
			if c.Restart {
				r = "  [restart]"
			}
			fmt.Fprintf(&b, "%s  %-36s %s -> %s%s\n", prefix, quote.OneLine(c.Name), quote.OneLine(c.Live), quote.OneLine(c.Pgtune), r)
		}
	}
	if len(live.Signals) > 0 {
		fmt.Fprintf(&b, "%sThe server's evidence:\n", prefix)
		for _, s := range live.Signals {
			fmt.Fprintf(&b, "%s  - [%s] %s\n", prefix, s.Severity, quote.OneLine(s.Title))
		}
	}
	b.WriteString(strings.TrimRight(prefix, " ") + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDetected(w io.Writer, prefix string, detected []string) error {
	for _, d := range detected {
		if _, err := fmt.Fprintf(w, "%sdetected: %s\n", prefix, quote.OneLine(d)); err != nil {
			return err
		}
	}
	return nil
}

// configTables are config's human tables: the settings, the connection and memory budgets.
func configTables(res configResult) []report.Table {
	cfg := res.Config
	rows := make([][]string, 0, len(cfg.Settings))
	for _, s := range cfg.Settings {
		restart := ""
		if s.Restart {
			restart = "restart"
		}
		rows = append(rows, []string{s.Name, s.Value, restart, s.Reason})
	}
	tables := []report.Table{{
		Title:   "Settings for " + conffile.Describe(cfg.Instance),
		Columns: []string{"setting", "value", "takes", "reason"},
		Rows:    rows,
		Note:    strings.Join(res.Detected, "; "),
	}}
	if live := res.Live; live != nil {
		var crows [][]string
		for _, c := range live.Changes {
			if c.Differs {
				r := ""
				if c.Restart {
					r = "restart"
				}
				crows = append(crows, []string{c.Name, c.Live, c.Pgtune, r})
			}
		}
		tables = append(tables, report.Table{Title: "Changes on " + live.Server, Columns: []string{"setting", "live", "pgtune", "takes"}, Rows: crows,
			Note: fmt.Sprintf("%d of %d settings change.", len(crows), len(live.Changes))})
		if len(live.Signals) > 0 {
			var srows [][]string
			for _, s := range live.Signals {
				srows = append(srows, []string{s.Severity.String(), s.Title, finding.Evidence(s.Evidence).String()})
			}
			tables = append(tables, report.Table{Title: "The server's evidence", Columns: []string{"severity", "finding", "evidence"}, Rows: srows})
		}
	}
	if len(cfg.Tables) > 0 {
		var trows [][]string
		for _, t := range cfg.Tables {
			trows = append(trows, []string{t.Table, fmt.Sprint(t.Rows), t.SQL, t.Reason})
		}
		tables = append(tables, report.Table{Title: "Large tables", Columns: []string{"table", "rows", "sql", "reason"}, Rows: trows})
	}
	cbt := connectionBudgetTable(cfg.Connections)
	cbt.Figure = connectionFigure(cfg.Connections)
	tables = append(tables, cbt)
	m := cfg.Memory
	var mrows [][]string
	for _, l := range m.Lines {
		mrows = append(mrows, []string{l.Item, pgconf.HumanBytes(l.Bytes), l.How})
	}
	tables = append(tables, report.Table{
		Title:   "Memory budget (worst case)",
		Columns: []string{"item", "memory", "how"},
		Rows:    mrows,
		Note:    fmt.Sprintf("Worst case %s of %s available (%s RAM less the OS's headroom).", pgconf.HumanBytes(m.WorstCase), pgconf.HumanBytes(m.Available), pgconf.HumanBytes(m.RAM)),
		Figure:  memoryFigure(m),
	})
	if len(cfg.Notes) > 0 || cfg.HugePages != nil {
		var nrows [][]string
		if hp := cfg.HugePages; hp != nil {
			nrows = append(nrows, []string{fmt.Sprintf("Reserve %d huge pages of %s (vm.nr_hugepages) for about %s of shared memory.", hp.Pages, pgconf.HumanBytes(hp.PageSize), pgconf.HumanBytes(hp.SharedMemory))})
		}
		for _, n := range cfg.Notes {
			nrows = append(nrows, []string{n})
		}
		tables = append(tables, report.Table{Title: "Notes", Columns: []string{"note"}, Rows: nrows})
	}
	return tables
}

// connectionBudgetTable is the budget table config and pgbouncer both print.
func connectionBudgetTable(cb pgconf.ConnectionBudget) report.Table {
	var rows [][]string
	for _, r := range cb.Rows {
		rows = append(rows, []string{r.Source, fmt.Sprint(r.Connections), r.Basis})
	}
	note := fmt.Sprintf("%d needed; max_connections = %d.", cb.Needed, cb.MaxConnections)
	if rb := cb.Replica; rb != nil {
		for _, r := range rb.Rows {
			rows = append(rows, []string{"replica: " + r.Source, fmt.Sprint(r.Connections), r.Basis})
		}
		note = fmt.Sprintf("The primary needs %d, each of the %d replicas %d; max_connections = %d on every node (a replica must have at least the primary's).", cb.Needed, rb.Replicas, rb.Needed, cb.MaxConnections)
	}
	return report.Table{
		Title:   "Connection budget",
		Columns: []string{"holder", "connections", "basis"},
		Rows:    rows,
		Note:    note,
	}
}
