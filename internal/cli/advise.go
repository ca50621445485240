package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/workload/build"

	pgtune "github.com/bookedbarber/pgtune"
	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	"github.com/bookedbarber/pgtune/dbstate/snapshot"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/pgconf"
	"github.com/bookedbarber/pgtune/query"
)

var adviseCmd = &command{
	name:    "advise",
	summary: "analyse a database's workload and report what to fix (read-only)",
	help: `Usage: pgtune advise [flags]

Reads what a database runs (pg_stat_statements) and what it is made of (catalog and
statistics), parses every statement into a model of how it reaches each table, and reports
ranked findings, each with its evidence and the exact SQL or action that fixes it:

  - query rewrites: columns hidden in expressions (date(col) = $1, col + interval > $1, casts),
    leading-wildcard LIKE, ILIKE, OR across columns, deep OFFSET paging, N+1 lookups;
  - the existing indexes: exact duplicates, left-prefix duplicates (including ones that repeat
    the primary key), invalid leftovers of failed builds, indexes unused since the statistics
    were reset;
  - statistics health: tables never analysed or stale after bulk changes, pg_stat_statements
    evicting entries, near capacity, or hiding other roles' statements;
  - settings: what the server's counters say (checkpoints forced by WAL volume, temporary files,
    buffer cache misses, connections near the limit or idle, autovacuum behind, transaction ID
    age); with the instance's size (--memory and --cpus, or --detect on the database host), the
    live settings' worst-case memory and every setting that differs from 'pgtune config'.

It only reads; it changes nothing. The source is one of:
  (default)                    a live database (--dsn, DATABASE_URL or the PG* variables)
  --snapshot FILE              a file written by 'pgtune snapshot' (same findings, offline)
  --schema F --statements F    a pg_dump --schema-only file and a pg_stat_statements CSV export
  --demo                       the bundled booking demo's snapshot (no database needed)

On a primary with read replicas, add --replica-dsn for each replica (live runs): their statements
and index scans join the primary's (an index is unused only if no node scanned it), and their lag,
slots, recovery conflicts and settings are checked.

Examples:
  pgtune advise --demo
  pgtune advise --dsn postgres://dba@db.internal/booking --fail-on high
  pgtune advise --snapshot prod.json.gz --format markdown > findings.md
  pgtune advise --schema schema.sql --statements statements.csv --format json
  pgtune advise --dsn postgres://dba@db.internal/booking --memory 32GB --cpus 8   # and the settings
`,
	run: runAdvise,
}

// sourceFlags are the ways advise and snapshot get a snapshot.
type sourceFlags struct {
	snapshotFile, schemaFile, statementsFile string
	demo                                     bool
	sample, timeout                          time.Duration
	noValues                                 bool
	replicaDSNs                              stringList
}

func (s *sourceFlags) addLive(fs *flagSet) {
	fs.DurationVar(&s.sample, "sample", 0, "live: also sample pg_stat_activity this long for statement texts with their literal constants (0: one look)")
	fs.DurationVar(&s.timeout, "statement-timeout", 30*time.Second, "live: timeout of each catalog query")
	fs.Var(&s.replicaDSNs, "replica-dsn", "live: also read this read replica of the --dsn primary (its statements and index scans); repeat for each replica")
}

func runAdvise(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withReport().withFailOn()
	var src sourceFlags
	fs.StringVar(&src.snapshotFile, "snapshot", "", "analyse this snapshot file (from 'pgtune snapshot') instead of a live database")
	fs.StringVar(&src.schemaFile, "schema", "", "analyse this pg_dump --schema-only file (with --statements)")
	fs.StringVar(&src.statementsFile, "statements", "", "pg_stat_statements CSV export to go with --schema")
	fs.BoolVar(&src.demo, "demo", false, "analyse the bundled booking demo's snapshot")
	src.addLive(fs)
	var inf instanceFlags
	inf.add(fs, false)
	top := fs.Int("top", 10, "how many statements the workload summary lists")
	noIndexes := fs.Bool("no-indexes", false, "skip the index engine (its planner work takes a few seconds on a large workload)")
	sessions := addPlannerSessions(fs)
	if err := fs.parse(args, false); err != nil {
		return err
	}
	if *top < 1 {
		return usageErrorf("advise: --top must be at least 1")
	}
	if *sessions < 1 {
		return usageErrorf("advise: --planner-sessions must be at least 1")
	}
	log, _ := fs.logger()
	snap, kind, err := src.load(ctx, fs, "advise")
	if err != nil {
		return err
	}
	opts := advisor.Options{Top: *top}
	if inf.memory != "" || inf.detect {
		in, _, err := inf.instance(fs, snap.Server.VersionNum/10000)
		if err != nil {
			return err
		}
		opts.Instance = &in
	}
	var engineNote *finding.Finding
	switch {
	case *noIndexes:
	case kind == "live" && snap.Extension("hypopg") != nil:
		// The index engine plans on a connection of its own, read-only, with hypothetical
		// indexes only.
		conn, _, err := fs.connect(ctx, log)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		w, err := indexes.NewWhatIf(ctx, conn, snap.Server.VersionNum)
		if err != nil {
			return fmt.Errorf("advise: %w", err)
		}
		defer w.Close(context.Background())
		parallel(w, *sessions, fs, log)
		opts.Coster = w
	case kind == "dump":
		// A schema file has no statistics to estimate from.
		engineNote = indexEngineNote(snap, kind)
	default:
		// No planner to ask: estimate from the statistics, and say how to get proof.
		opts.EstimateIndexes = true
		engineNote = indexEngineNote(snap, kind)
	}
	p := newProgress(e.stderr)
	p.update("analysing %d statements", len(snap.Statements.Rows))
	opts.Progress = func(done, total int) {
		p.update("analysing statements: %s of %s distinct texts parsed", thousands(int64(done)), thousands(int64(total)))
	}
	began := time.Now()
	rep, engineErr := advisor.Advise(ctx, snap, opts)
	p.done()
	if engineErr != nil && rep == nil {
		return fmt.Errorf("advise: %w", engineErr)
	}
	if engineNote != nil {
		rep.Findings = append(rep.Findings, *engineNote)
		advisor.Rank(rep.Findings)
	}
	rep.Source.Kind = kind
	log.Debug("advised", "source", kind, "statements", rep.Summary.Statements, "findings", len(rep.Findings), "took", time.Since(began))

	if err := fs.write(rep, adviseTables(rep)...); err != nil {
		return err
	}
	if engineErr != nil {
		// The report stands, with the gap named under "Not collected"; the exit says it is
		// incomplete.
		return fmt.Errorf("advise: %w (the rest of the report was printed)", engineErr)
	}
	if fs.failOnThreshold().Trips(rep.Findings) {
		return errFindings
	}
	return nil
}

// load gets the snapshot from the chosen source; kind names it for the report.
func (s *sourceFlags) load(ctx context.Context, fs *flagSet, cmdName string) (*dbstate.Snapshot, string, error) {
	n := 0
	for _, set := range []bool{s.snapshotFile != "", s.schemaFile != "" || s.statementsFile != "", s.demo, fs.dsn != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, "", usageErrorf("%s: choose one source: --dsn, --snapshot, --schema with --statements, or --demo", cmdName)
	}
	if len(s.replicaDSNs) > 0 && (s.demo || s.snapshotFile != "" || s.schemaFile != "" || s.statementsFile != "") {
		return nil, "", usageErrorf("%s: --replica-dsn reads replicas beside a live primary (--dsn, DATABASE_URL or PG*); a snapshot holds the replicas it was taken with", cmdName)
	}
	switch {
	case s.demo:
		snap, err := snapshot.Read(bytes.NewReader(pgtune.DemoSnapshot))
		if err != nil {
			return nil, "", fmt.Errorf("the bundled demo snapshot: %w", err)
		}
		return snap, "demo", nil
	case s.snapshotFile != "":
		snap, err := snapshot.ReadFile(s.snapshotFile)
		if err != nil {
			return nil, "", fileError("--snapshot", err)
		}
		return snap, "snapshot", nil
	case s.schemaFile != "" || s.statementsFile != "":
		if s.schemaFile == "" || s.statementsFile == "" {
			return nil, "", usageErrorf("%s: --schema and --statements go together (a pg_dump --schema-only file and a pg_stat_statements CSV export)", cmdName)
		}
		schemaSQL, err := os.ReadFile(s.schemaFile)
		if err != nil {
			return nil, "", fileError("--schema", err)
		}
		f, err := os.Open(s.statementsFile)
		if err != nil {
			return nil, "", fileError("--statements", err)
		}
		defer f.Close()
		p := newProgress(fs.e.stderr)
		var size int64
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		stmts, err := snapshot.ReadStatementsCSV(&progressReader{r: f, report: func(n int64) {
			p.update("reading %s: %s of %s", s.statementsFile, pgconf.HumanBytes(n), pgconf.HumanBytes(size))
		}})
		p.done()
		if err != nil {
			return nil, "", fmt.Errorf("--statements %s: %w", s.statementsFile, err)
		}
		snap, err := build.SnapshotFromDump(string(schemaSQL), stmts, time.Now(), Version())
		if err != nil {
			return nil, "", fmt.Errorf("--schema %s: %w", s.schemaFile, err)
		}
		return snap, "dump", nil
	}
	log, _ := fs.logger()
	replicas, err := s.replicaConfigs(fs)
	if err != nil {
		return nil, "", err
	}
	conn, cfg, err := fs.connect(ctx, log)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close(context.Background())
	p := newProgress(fs.e.stderr)
	snap, err := collect.Collect(ctx, conn, collect.Options{
		StatementTimeout: s.timeout, SampleFor: s.sample, NoValues: s.noValues, PgtuneVersion: Version(), Log: log, Redact: query.Redact,
		Untracked: fs.untracked,
		Progress:  func(step string) { p.update("reading %s", step) },
	})
	p.done()
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", cmdName, connect.Describe(cfg), err)
	}
	if err := s.readReplicas(ctx, fs, snap, replicas, log); err != nil {
		return nil, "", err
	}
	return snap, "live", nil
}

// indexEngineNote says why a run's index recommendations are estimated (or missing), and how to
// have them proven by the planner.
func indexEngineNote(snap *dbstate.Snapshot, kind string) *finding.Finding {
	f := &finding.Finding{Rule: "index.engine_unavailable", Kind: finding.KindIndex, Severity: finding.SeverityInfo, NeedsLivePlanner: true}
	estimated := " Index recommendations below are estimated from pg_stats with a model of the planner, and marked so."
	switch {
	case kind == "dump":
		f.Title = "no index recommendations: a schema file has no statistics to estimate from"
		f.Detail = "Run pgtune advise against the database (with HypoPG, the planner proves each index), or on a 'pgtune snapshot' file."
	case kind != "live":
		f.Title = "index recommendations are estimated: for proof, run pgtune advise against the database"
		f.Detail = "pgtune proves the indexes it recommends with the server's own planner, through HypoPG's hypothetical indexes; a " +
			kind + " run has no server to ask." + estimated
	case slices.Contains(snap.AvailableExtensions, "hypopg"):
		f.Title = "index recommendations are estimated: create HypoPG, which the server has, for the planner's proof"
		f.SQL = "CREATE EXTENSION hypopg;"
		f.Detail = "With HypoPG, pgtune prices every index with the planner (hypothetical indexes exist only in its session)." + estimated
	default:
		f.Title = "index recommendations are estimated: this server lacks HypoPG for the planner's proof"
		f.Action = fmt.Sprintf("install HypoPG (e.g. apt-get install postgresql-%d-hypopg), then CREATE EXTENSION hypopg;", max(snap.Server.VersionNum/10000, 13))
		f.Detail = "With HypoPG, pgtune prices every index with the planner." + estimated
	}
	return f
}

// fileError words a file problem with its flag, as a could-not-run error.
func fileError(flagName string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %v", flagName, pe.Path, pe.Err)
	}
	return fmt.Errorf("%s: %w", flagName, err)
}

// adviseTables renders the report for people.
func adviseTables(r *advisor.Report) []report.Table {
	src := r.Source
	title := fmt.Sprintf("pgtune advise: database %s", orDash(src.Database))
	if src.ServerVersion != "" {
		title += ", PostgreSQL " + strings.Fields(src.ServerVersion)[0]
	}
	title += fmt.Sprintf(" (%s, taken %s)", src.Kind, src.TakenAt.Format("2006-01-02 15:04 UTC"))
	w := r.Summary
	note := fmt.Sprintf("%d statements, %s calls, %s of execution time", w.Statements, thousands(w.Calls), duration(w.TotalExecMs))
	if src.StatementsReset != nil {
		note += " since " + src.StatementsReset.Format("2006-01-02 15:04 UTC")
	}
	if w.OwnRows+w.InternalRows > 0 {
		note += fmt.Sprintf("; left out: %d rows of pgtune's own, %d of PostgreSQL's foreign-key checks", w.OwnRows, w.InternalRows)
	}
	if w.HiddenRows > 0 {
		note += fmt.Sprintf("; %d rows hidden (see findings)", w.HiddenRows)
	}
	for _, u := range w.Unmodelled {
		note += fmt.Sprintf("; %d %s", u.Statements, u.Problem)
	}
	tables := []report.Table{}

	sevCount := map[finding.Severity]int{}
	var rows [][]string
	for i, f := range r.Findings {
		sevCount[f.Severity]++
		rows = append(rows, []string{fmt.Sprint(i + 1), f.Severity.String(), string(f.Kind), orDash(f.Table), f.Title})
	}
	counts := []string{}
	for s := finding.SeverityCritical; s >= finding.SeverityInfo; s-- {
		if sevCount[s] > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", sevCount[s], s))
		}
	}
	fnote := "No findings."
	if len(r.Findings) > 0 {
		fnote = fmt.Sprintf("%d findings (%s); details and fixes below.", len(r.Findings), strings.Join(counts, ", "))
	}
	tables = append(tables, report.Table{Title: title, Columns: []string{"#", "severity", "kind", "table", "finding"}, Rows: rows,
		Note: note + "\n" + fnote, Section: "Summary"})

	if len(src.Replicas) > 0 {
		var n [][]string
		for _, r := range src.Replicas {
			status, since := "read", "-"
			if r.Error != "" {
				status = "NOT READ: " + r.Error
			}
			if r.StatsReset != nil {
				since = r.StatsReset.Format("2006-01-02 15:04 UTC")
			}
			n = append(n, []string{r.Name, fmt.Sprint(r.Statements), thousands(r.Calls), since, status})
		}
		tables = append(tables, report.Table{Title: fmt.Sprintf("Replicas read beside the primary (%d; the primary shows %d streaming)", len(src.Replicas), src.StreamingReplicas),
			Columns: []string{"replica", "statements", "calls", "index counters since", "status"}, Rows: n,
			Note: "Their statements are merged with the primary's by fingerprint; an index is unused only if no node scanned it."})
	}
	if len(src.Gaps) > 0 {
		var g [][]string
		for _, gap := range src.Gaps {
			g = append(g, []string{gap.What, gap.Reason})
		}
		tables = append(tables, report.Table{Title: "Not collected", Columns: []string{"what", "why, and the fix"}, Rows: g})
	}

	var top [][]string
	for _, s := range w.Top {
		text := s.Query
		if s.Problem != "" {
			text = "(" + s.Problem + ") " + text
		}
		top = append(top, []string{fmt.Sprint(s.Rank), thousands(s.Calls), duration(s.TotalExecMs), fmt.Sprintf("%.3f", s.MeanExecMs),
			fmt.Sprintf("%.1f", s.RowsPerCall), fmt.Sprintf("%.1f%%", 100*s.TimeShare), quote.Excerpt(text, 90)})
	}
	tables = append(tables, report.Table{Title: fmt.Sprintf("Top %d statements by total execution time", len(top)),
		Columns: []string{"#", "calls", "total", "mean ms", "rows/call", "time", "statement"}, Rows: top,
		Section: "Workload", Figure: workloadFigure(w.Top)})

	var acc [][]string
	for i, t := range w.Tables {
		if i == 15 {
			break
		}
		var uses []string
		for j, c := range t.Columns {
			if j == 4 {
				uses = append(uses, fmt.Sprintf("+%d more", len(t.Columns)-4))
				break
			}
			uses = append(uses, c.Column+" ("+c.Describe()+")")
		}
		acc = append(acc, []string{t.Table, fmt.Sprint(t.Statements), thousands(t.ReadCalls), thousands(t.WriteCalls),
			fmt.Sprintf("%.1f%%", 100*t.TimeShare), strings.Join(uses, "\n"), strings.Join(t.Written, ", ")})
	}
	tables = append(tables, report.Table{Title: "How the workload reaches each table",
		Columns: []string{"table", "statements", "read calls", "write calls", "time", "columns used (calls)", "columns updated"}, Rows: acc,
		Section: "Workload", Figure: accessFigure(w.Tables)})

	for i, f := range r.Findings {
		t := findingDetail(i+1, f, r.Source.Kind == "live")
		t.Section, t.Class, t.Figure = "Findings: "+f.Severity.String(), f.Severity.String(), indexFigure(f)
		tables = append(tables, t)
	}
	return tables
}

// findingDetail renders one finding as a record.
func findingDetail(n int, f finding.Finding, live bool) report.Table {
	t := report.Table{Title: fmt.Sprintf("[%d] %s · %s · %s", n, strings.ToUpper(f.Severity.String()), f.Rule, f.Title)}
	if f.Table != "" {
		t.Fields = append(t.Fields, [2]string{"table", f.Table})
	}
	if f.Detail != "" {
		t.Fields = append(t.Fields, [2]string{"why", f.Detail})
	}
	if len(f.Evidence) > 0 {
		t.Fields = append(t.Fields, [2]string{"evidence", f.Evidence.String()})
	}
	for i, s := range f.Statements {
		if i == 5 {
			t.Fields = append(t.Fields, [2]string{"", fmt.Sprintf("and %d more (see --format json)", len(f.Statements)-5)})
			break
		}
		t.Fields = append(t.Fields, [2]string{"statement", fmt.Sprintf("%s calls, %.3f ms mean, %.1f%% of time: %s",
			thousands(s.Calls), s.MeanExecMs, 100*s.TimeShare, quote.Excerpt(s.Query, 160))})
	}
	switch {
	case f.NeedsLivePlanner && live:
		// Proved here, by the server's planner with hypothetical indexes: only an offline run
		// (a snapshot, a dump) could not repeat it.
		t.Fields = append(t.Fields, [2]string{"note", "proved by this server's planner with a hypothetical index (HypoPG); an offline snapshot cannot repeat it"})
	case f.NeedsLivePlanner:
		t.Fields = append(t.Fields, [2]string{"note", "needs the live planner: rerun against the database to prove it"})
	}
	t.Code = f.SQL
	if f.Action != "" {
		if f.SQL != "" {
			t.Note = "  then: " + f.Action
		} else {
			t.Note = "  fix: " + f.Action
		}
	}
	return t
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// thousands prints 1234567 as 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// duration prints milliseconds for people: 850 ms, 12.3 s, 4.2 min, 3.1 h.
func duration(ms float64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	case ms < 60_000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms < 3_600_000:
		return fmt.Sprintf("%.1f min", ms/60_000)
	}
	return fmt.Sprintf("%.1f h", ms/3_600_000)
}
