package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/advisor/audit"
	"github.com/bookedbarber/pgtune/workload"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/advisor/prereq"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/migrations"
	"github.com/bookedbarber/pgtune/workload/build"
)

var indexesCmd = &command{
	name:    "indexes",
	summary: "choose the indexes the workload needs, proven with the planner, and write migration files",
	help: `Usage: pgtune indexes generate --dir DIR [flags]

Reads the workload (pg_stat_statements, with pg_stat_activity samples for the application's
literal constants) and the catalog, proposes candidate indexes from how each statement reaches
each table (equality, then range, then ORDER BY columns; partial indexes for rare constants;
expression indexes for immutable wrappers; covering INCLUDE columns), prices every affected
statement with and without them using the server's planner through HypoPG, and chooses the set
that saves the most planner cost per byte across the whole workload, net of the write cost it
adds (and the HOT updates it breaks).

It writes golang-migrate files into DIR: NNNNNN_create_<index>.up.sql with exactly one
CREATE INDEX CONCURRENTLY IF NOT EXISTS (and a header saying why, with the numbers), and a
.down.sql that drops it concurrently. An index on a partitioned table is written as steps
PostgreSQL accepts online: CREATE INDEX ... ON ONLY the parent, one CREATE INDEX CONCURRENTLY
per partition, then ALTER INDEX ... ATTACH PARTITION. Numbering continues what DIR holds;
indexes DIR already has migrations for are skipped; no file is ever overwritten.

Drops of redundant indexes are written only with --include-drops, and never: an index a
constraint uses (primary key, unique, exclusion, or one a foreign key checks through), of twins
the one a foreign key depends on, both an index and the one its drop relies on, an index of a
partitioned table, an unused index that serves a foreign key, or an "unused" one when the
statistics are younger than a week or of unknown age (stats_reset empty).
Apply them with 'pgtune migrate up'.

It reads only: the planning happens in a read-only session with hypothetical indexes. With
HypoPG in the database (CREATE EXTENSION hypopg) every index is proven by the planner; without
it, or from --snapshot / --demo, costs are estimated from pg_stats with a model of the planner,
and the summary and each file say so.

Examples:
  pgtune indexes generate --dsn postgres://dba@db.internal/booking --dir migrations/booking
  pgtune indexes generate --dir migrations --max-indexes 5 --budget 10%
`,
	run: runIndexes,
}

// generateSummary is indexes generate's JSON document.
type generateSummary struct {
	Dir       string              `json:"dir"`
	Files     []string            `json:"files"`
	Proposals []*indexes.Proposal `json:"proposals"`
	Drops     []string            `json:"drops,omitempty"`
	// RefusedDrops are drops the planner showed would make a statement dearer (HypoPG 1.4+).
	RefusedDrops []indexes.RefusedDrop `json:"refused_drops,omitempty"`
	Candidates   int                   `json:"candidates"`
	Explains     int                   `json:"explains"`
	BaseCost     float64               `json:"base_cost"`
	FinalCost    float64               `json:"final_cost"`
	Skipped      []string              `json:"skipped,omitempty"`
	// Estimated is set when costs came from the statistics estimator, not the planner.
	Estimated bool `json:"estimated"`
}

func runIndexes(ctx context.Context, cmd *command, e *env, args []string) error {
	if len(args) == 0 || args[0] != "generate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprint(e.stdout, strings.TrimLeft(cmd.help, "\n"))
			return errHelpShown
		}
		return usageErrorf("indexes: want the subcommand generate (pgtune indexes generate --dir DIR); see 'pgtune help indexes'")
	}
	fs := newFlagSet(cmd, e).withConnection().withOutput()
	dir := fs.String("dir", "", "migration directory to write into (required)")
	drops := fs.Bool("include-drops", false, "also write migrations dropping redundant indexes (duplicates, left prefixes, unused, replaced)")
	maxIdx := fs.Int("max-indexes", 0, "propose at most this many indexes (0: no cap)")
	budget := fs.String("budget", "", "cap the proposals' total size: bytes (500MB, 2GB) or a share of the tables' size (10%)")
	sessions := addPlannerSessions(fs)
	var src sourceFlags
	src.addLive(fs)
	fs.StringVar(&src.snapshotFile, "snapshot", "", "work from this snapshot file instead (costs then estimated from its statistics)")
	fs.BoolVar(&src.demo, "demo", false, "work from the bundled booking demo's snapshot (costs estimated)")
	if err := fs.parse(args[1:], false); err != nil {
		return err
	}
	if *dir == "" {
		return usageErrorf("indexes generate: --dir DIR is required (e.g. --dir migrations/booking)")
	}
	if *maxIdx < 0 {
		return usageErrorf("indexes generate: --max-indexes must be 0 or more")
	}
	if *sessions < 1 {
		return usageErrorf("indexes generate: --planner-sessions must be at least 1")
	}
	if st, err := os.Stat(*dir); err == nil && !st.IsDir() {
		return usageErrorf("indexes generate: --dir %s is a file; name a directory", *dir)
	}
	if _, _, err := parseBudget(*budget); err != nil {
		return usageErrorf("indexes generate: --budget: %w", err)
	}
	last, known, planned, err := plannedIn(*dir)
	if err != nil {
		return err
	}
	log, _ := fs.logger()
	snap, kind, err := src.load(ctx, fs, "indexes generate")
	if err != nil {
		return err
	}
	budgetBytes, share, _ := parseBudget(*budget)
	if share > 0 {
		total := 0.0
		for _, t := range snap.Tables {
			total += float64(t.SizeBytes)
		}
		budgetBytes = total * share
	}
	// The engine needs the workload model only, not the advisor's other findings.
	cat := dbstate.NewCatalog(snap)
	wl := build.Workload(snap, cat, nil)
	cands := indexes.Generate(wl, cat)

	coster, explains, estimated, closeCoster, err := indexCoster(ctx, fs, snap, kind, wl, cat, *sessions, log)
	if err != nil {
		return err
	}
	defer closeCoster()
	p := newProgress(e.stderr)
	p.update("pricing %d candidates", len(cands))
	maxTexts := 0
	if !estimated {
		maxTexts = advisor.PlannerTextCap(snap, wl)
	}
	res, err := indexes.Select(ctx, wl, cat, cands, coster, indexes.Options{MaxIndexes: *maxIdx, BudgetBytes: budgetBytes, Planned: planned, MaxTexts: maxTexts,
		Trace: func(msg string, args ...any) { log.Debug("index selection: "+msg, args...) }})
	p.done()
	if err != nil {
		if _, denied := errors.AsType[*indexes.DeniedError](err); denied {
			return fmt.Errorf("indexes generate: %w; nothing written; fix: %s", err, prereq.PlannerGrant(snap.Server.User, snap.Server.VersionNum))
		}
		return fmt.Errorf("indexes generate: %w", err)
	}
	if res.Unplanned > 0 {
		log.Warn("not every statement was planned", "why", advisor.UnplannedGap(snap, res.Unplanned).Reason)
	}
	if len(res.Denied) > 0 {
		log.Warn("the planner refused some statements: no migration covers them", "statements", len(res.Denied),
			"tables", strings.Join(res.DeniedTables, ", "), "fix", prereq.PlannerGrant(snap.Server.User, snap.Server.VersionNum))
	}

	var dropList []indexes.Drop
	var refused []indexes.RefusedDrop
	if *drops {
		if dropList, refused, err = generateDrops(ctx, snap, wl, cat, coster, res, planned, p, log); err != nil {
			return err
		}
	}
	migs := indexes.Migrations(res.Proposals, dropList, indexes.PartitionsOf(snap.Tables), last, known, time.Now().UTC())
	files, err := indexes.Write(*dir, migs)
	if err != nil {
		return err
	}
	sum := generateSummary{Dir: *dir, Files: files, Proposals: res.Proposals, Candidates: res.Candidates, Explains: explains(), Estimated: estimated,
		BaseCost: finding.Round(res.BaseCost, 1), FinalCost: finding.Round(res.FinalCost, 1)}
	if sum.Proposals == nil {
		sum.Proposals = []*indexes.Proposal{}
	}
	for _, d := range dropList {
		sum.Drops = append(sum.Drops, d.Index.Key())
	}
	sum.RefusedDrops = refused
	var rows [][]string
	for _, m := range migs {
		up, _ := m.Files()
		rows = append(rows, []string{up, firstStatement(m.Up)})
	}
	for _, pr := range res.Proposals {
		if known[pr.Candidate.Name] {
			sum.Skipped = append(sum.Skipped, pr.Candidate.Name)
		}
	}
	how := fmt.Sprintf("%d EXPLAINs through HypoPG", sum.Explains)
	if estimated {
		how = fmt.Sprintf("%d estimates from pg_stats (no HypoPG here: not proven by the planner)", sum.Explains)
	}
	note := fmt.Sprintf("%d candidates priced with %s; the workload's weighted planner cost goes from %.0f to %.0f (%.1fx).",
		res.Candidates, how, res.BaseCost, res.FinalCost, res.BaseCost/math.Max(res.FinalCost, 1))
	if len(migs) == 0 {
		note = "Nothing to write: " + note
	}
	return fs.write(sum, report.Table{Title: fmt.Sprintf("Wrote %d migrations into %s", len(migs), *dir),
		Columns: []string{"file", "statement"}, Rows: rows, Note: note})
}

// plannedIn reads the directory as 'migrate up' will (one reader, the parser's names): its last
// version, the names its migrations handle, and the indexes they create as candidates in place
// (a second run builds on them). A directory up refuses is refused here too: numbering after it
// would only add to what blocks the pipeline. A missing directory plans nothing.
func plannedIn(dir string) (last int, known map[string]bool, planned []*indexes.Candidate, err error) {
	d, err := migrations.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		d = nil // written on the first run
	case err != nil:
		return 0, nil, nil, fmt.Errorf("read --dir %s: %w", dir, err)
	case len(d.Problems) > 0:
		return 0, nil, nil, usageErrorf("indexes generate: --dir %s: %w", dir, &migrations.DirError{Dir: dir, Problems: d.Problems})
	}
	last, known, creates, err := d.Planned()
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read --dir %s: a migration does not parse: %w", dir, err)
	}
	for _, ix := range creates {
		planned = append(planned, indexes.FromIndex(ix))
	}
	return last, known, planned, nil
}

// indexCoster is what prices the candidates: the planner through HypoPG on a live database (on
// helper sessions too); without it (or offline), the statistics estimator, and the files say so.
// explains counts what it priced; closeCoster ends its sessions.
func indexCoster(ctx context.Context, fs *flagSet, snap *dbstate.Snapshot, kind string, wl *workload.Workload, cat *dbstate.Catalog,
	sessions int, log *slog.Logger) (coster indexes.Coster, explains func() int, estimated bool, closeCoster func(), err error) {
	if kind != "live" || snap.Extension("hypopg") == nil {
		est := indexes.NewEstimator(wl, cat)
		log.Warn("no HypoPG to ask the planner: index costs are estimated from pg_stats", "source", kind)
		return est, func() int { return est.Estimates }, true, func() {}, nil
	}
	conn, cfg, err := fs.connect(ctx, log)
	if err != nil {
		return nil, nil, false, nil, err
	}
	w, err := indexes.NewWhatIf(ctx, conn, snap.Server.VersionNum)
	if err != nil {
		conn.Close(context.Background())
		return nil, nil, false, nil, fmt.Errorf("indexes generate %s: %w", connect.Describe(cfg), err)
	}
	parallel(w, sessions, fs, log)
	closeCoster = func() {
		w.Close(context.Background())
		conn.Close(context.Background())
	}
	return w, func() int { return w.Explains }, false, closeCoster, nil
}

// generateDrops are the redundant indexes to drop: the audit's findings (duplicates, unused,
// skip-scan-redundant), each priced with the planner where HypoPG 1.4+ can hide indexes (the
// index hidden and the proposals in place; a drop that makes any statement dearer is refused).
func generateDrops(ctx context.Context, snap *dbstate.Snapshot, wl *workload.Workload, cat *dbstate.Catalog, coster indexes.Coster,
	res *indexes.Result, planned []*indexes.Candidate, p *progress, log *slog.Logger) ([]indexes.Drop, []indexes.RefusedDrop, error) {
	hc, canProve := coster.(indexes.HidingCoster)
	canProve = canProve && hc.CanHideIndexes()
	dropList := redundantIndexes(audit.Analyze(cat, snap.TakenAt), cat, res, canProve, log)
	if !canProve {
		if len(dropList) > 0 {
			log.Info("drops not priced with the planner (HypoPG 1.4+ hides indexes; this server's cannot, or the run is offline): they rest on the audit's rules")
		}
		return dropList, nil, nil
	}
	if len(dropList) == 0 {
		return nil, nil, nil
	}
	config := slices.Clone(planned)
	for _, pr := range res.Proposals {
		config = append(config, pr.Candidate)
	}
	p.update("pricing %d drops with the indexes hidden", len(dropList))
	dropList, refused, err := indexes.ProveDrops(ctx, wl, cat, hc, config, dropList)
	p.done()
	if err != nil {
		return nil, nil, fmt.Errorf("indexes generate: price the drops: %w", err)
	}
	for _, r := range refused {
		log.Warn("drop not written", "index", r.Index, "reason", r.Reason)
	}
	return dropList, refused, nil
}

// redundantIndexes are the drops the audit advises plus the indexes the proposals replace. An
// index a skip scan makes nearly redundant (18) is a drop only where the planner will price it
// (proven). Whatever the audit says, a generated file never drops:
//   - an index a constraint uses: primary key, unique or exclusion constraint, or one a foreign key
//     checks through (pg_constraint.conindid: the drop would fail and block every later migration);
//   - an index of a partitioned table (not CONCURRENTLY; an attached one not alone);
//   - both sides of a pair: a drop that rests on another index staying (a duplicate's twin, the
//     wider index a prefix is served by) is not written when that index is dropped too. Unused
//     indexes are taken first, so of a used prefix and an unused wider index, the unused one goes;
//   - an "unused" index on statistics younger than a week or of unknown age (the audit's info
//     findings, which are left out).
func redundantIndexes(audited []finding.Finding, cat *dbstate.Catalog, res *indexes.Result, proven bool, log *slog.Logger) []indexes.Drop {
	byKey := map[string]*dbstate.Index{}
	for i := range cat.Snapshot().Indexes {
		ix := &cat.Snapshot().Indexes[i]
		byKey[ix.Key()] = ix
	}
	type candidate struct {
		key, why, partner string
		unused            bool
	}
	var cands []candidate
	for _, f := range audited {
		if f.Index == nil || !strings.HasPrefix(f.SQL, "DROP INDEX") || (f.Severity < finding.SeverityLow && f.Rule != "audit.index.skip_scan") {
			continue
		}
		if _, fk := f.Evidence.Get("foreign_key"); fk && f.Rule == "audit.index.unused" {
			// Deletes on the referenced table look the rows up through it, rarely enough that no
			// statement shows: whether they happen is the DBA's call, not a generated file's.
			continue
		}
		key := dbstate.QualifiedName(f.Index.Schema, f.Index.Name)
		partner := ""
		if p, ok := f.Evidence.Get("kept_index"); ok {
			partner = dbstate.QualifiedName(f.Index.Schema, fmt.Sprint(p))
		}
		switch {
		case f.Rule == "audit.index.duplicate", f.Rule == "audit.index.prefix", f.Rule == "audit.index.unused",
			f.Rule == "audit.index.skip_scan" && proven:
			cands = append(cands, candidate{key: key, why: "Drops " + f.Index.Name + ": " + f.Title + ".", partner: partner, unused: f.Rule == "audit.index.unused"})
		}
	}
	for _, p := range res.Proposals {
		for _, r := range p.Replaces {
			cands = append(cands, candidate{key: r, why: "Drops " + r + ": " + p.Candidate.Name + " leads with the same keys and serves its statements."})
		}
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		switch {
		case a.unused == b.unused:
			return 0
		case a.unused:
			return -1
		}
		return 1
	})
	var out []indexes.Drop
	dropping := map[string]bool{}
	kept := map[string]string{} // index -> the drop that needs it
	for _, c := range cands {
		ix := byKey[c.key]
		switch {
		case ix == nil || dropping[c.key]:
			continue
		case ix.Primary || ix.Constraint != "" || len(ix.ReferencedBy) > 0:
			log.Info("drop not written: a constraint uses the index", "index", c.key, "constraint", cmp.Or(ix.Constraint, strings.Join(ix.ReferencedBy, ", ")))
			continue
		case ix.Partitioned || ix.Attached:
			log.Info("drop not written: an index of a partitioned table (drop it by hand: not CONCURRENTLY)", "index", c.key)
			continue
		case kept[c.key] != "":
			log.Info("drop not written: the index stays for another drop in this run", "index", c.key, "needed_by", kept[c.key])
			continue
		case c.partner != "" && dropping[c.partner]:
			log.Info("drop not written: it rests on an index this run drops", "index", c.key, "dropped", c.partner)
			continue
		}
		dropping[c.key] = true
		if c.partner != "" {
			kept[c.partner] = c.key
		}
		out = append(out, indexes.Drop{Index: ix, Reason: c.why})
	}
	return out
}

func firstStatement(sql string) string {
	for _, l := range strings.Split(sql, "\n") {
		if l != "" && !strings.HasPrefix(l, "--") {
			return l
		}
	}
	return ""
}

// parseBudget reads 500MB, 2GB, 1024 (bytes), or 10% (a share of the tables' total size,
// returned as share).
func parseBudget(arg string) (bytes, share float64, err error) {
	s := strings.TrimSpace(strings.ToUpper(arg))
	if s == "" {
		return 0, 0, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || !(v > 0 && v <= 1000) {
			return 0, 0, fmt.Errorf("%q is not a share like 10%% (more than 0, at most 1000)", arg)
		}
		return 0, v / 100, nil
	}
	mult := 1.0
	for _, u := range []struct {
		suffix string
		m      float64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(v), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0 && v*mult <= math.MaxInt64) { // NaN and Inf parse as floats too
		return 0, 0, fmt.Errorf("%q is not a size like 500MB or a share like 10%%", arg)
	}
	return v * mult, 0, nil
}

// addPlannerSessions is --planner-sessions, for the commands that price indexes with HypoPG.
func addPlannerSessions(fs *flagSet) *int {
	return fs.Int("planner-sessions", 2, "live: sessions that plan at once with HypoPG; each takes a server core while it plans (1: one session)")
}

// parallel lets w's first pass plan on more sessions, each opened as the first one was.
func parallel(w *indexes.WhatIf, sessions int, fs *flagSet, log *slog.Logger) {
	w.Parallel(sessions, func(ctx context.Context) (*pgx.Conn, error) {
		conn, _, err := fs.connect(ctx, log)
		return conn, err
	}, log)
}
