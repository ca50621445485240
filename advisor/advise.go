// Package advisor turns a snapshot of a database (collected live, read from a file, or imported
// from pg_dump and a pg_stat_statements export) into ranked, explained findings. It has
// workload/build make the workload model (every statement a workload.Statement, rows merged by
// fingerprint), runs the rule families (rewrite hints, the existing-index audit, statistics
// health, the cluster, settings, maintenance, and the index engine when given a Coster) and ranks
// what they find. The rule families never import this package; it imports them.
package advisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/workload/build"

	"github.com/bookedbarber/pgtune/advisor/audit"
	"github.com/bookedbarber/pgtune/advisor/cluster"
	"github.com/bookedbarber/pgtune/advisor/health"
	"github.com/bookedbarber/pgtune/advisor/prereq"
	"github.com/bookedbarber/pgtune/advisor/rewrite"
	"github.com/bookedbarber/pgtune/advisor/settings"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/maintenance"
	"github.com/bookedbarber/pgtune/pgconf"
	"github.com/bookedbarber/pgtune/workload"
)

// Options control Advise.
type Options struct {
	// Top is how many statements the workload summary lists (default 10).
	Top int
	// Progress, when set, is called a few times a second, from one goroutine, while the
	// statement texts are parsed: done of total distinct texts.
	Progress func(done, total int)
	// Now is the time the advice is given at; zero means the snapshot's TakenAt, so an offline
	// snapshot is judged as of when it was taken.
	Now time.Time
	// Coster, when set, runs the index engine: the planner through HypoPG on a live database.
	Coster indexes.Coster
	// EstimateIndexes runs the index engine with the statistics estimator when there is no
	// Coster (offline, or no HypoPG); its findings are marked estimated.
	EstimateIndexes bool
	// Indexes bounds the index engine.
	Indexes indexes.Options
	// Instance is the server's size, when known: the settings findings then compare every live
	// setting with what pgtune config renders for it, and price the live worst-case memory.
	Instance *pgconf.Instance
}

// Report is the advisor's result.
type Report struct {
	Source   Source            `json:"source"`
	Summary  WorkloadSummary   `json:"workload"`
	Findings []finding.Finding `json:"findings"`
	// Workload is the statements' model, for callers that go on (the index engine); not part of
	// the JSON report (Summary is).
	Workload *workload.Workload `json:"-"`
	Catalog  *dbstate.Catalog   `json:"-"`
}

// Source says what was analysed.
type Source struct {
	// Kind is "live", "snapshot", "dump" or "demo".
	Kind            string        `json:"kind"`
	Database        string        `json:"database,omitempty"`
	ServerVersion   string        `json:"server_version,omitempty"`
	TakenAt         time.Time     `json:"taken_at"`
	StatsReset      *time.Time    `json:"stats_reset,omitempty"`
	StatementsReset *time.Time    `json:"statements_reset,omitempty"`
	Tables          int           `json:"tables"`
	Indexes         int           `json:"indexes"`
	Gaps            []dbstate.Gap `json:"gaps,omitempty"`
	// Replicas are the read replicas read beside the primary, each with what it added to the
	// workload; StreamingReplicas is how many the primary shows streaming (read or not).
	Replicas          []ReplicaSource `json:"replicas,omitempty"`
	StreamingReplicas int             `json:"streaming_replicas,omitempty"`
}

// ReplicaSource is one replica of the report's source.
type ReplicaSource struct {
	Name          string     `json:"name"`
	ServerVersion string     `json:"server_version,omitempty"`
	StatsReset    *time.Time `json:"stats_reset,omitempty"`
	Statements    int        `json:"statements"`
	Calls         int64      `json:"calls"`
	// Error says why it could not be read.
	Error string `json:"error,omitempty"`
}

// WorkloadSummary is the report's picture of the workload.
type WorkloadSummary struct {
	Statements  int     `json:"statements"`
	Calls       int64   `json:"calls"`
	TotalExecMs float64 `json:"total_exec_ms"`
	// Hidden counts rows of other roles the user could not read.
	HiddenRows int64 `json:"hidden_rows"`
	// OwnRows are pgtune's own rows and InternalRows PostgreSQL's foreign-key checks, both left
	// out of the workload (dbstate.Statements says how they are recognised).
	OwnRows      int64                   `json:"own_rows"`
	InternalRows int64                   `json:"internal_rows"`
	Unmodelled   []workload.ProblemCount `json:"unmodelled,omitempty"`
	// Top lists the statements with the most total execution time.
	Top []TopStatement `json:"top"`
	// Tables lists how the workload reaches each table, busiest first.
	Tables []*workload.TableAccess `json:"tables"`
}

// TopStatement is a line of the workload summary.
type TopStatement struct {
	Rank int `json:"rank"`
	finding.StatementEvidence
	RowsPerCall float64  `json:"rows_per_call"`
	Tables      []string `json:"tables,omitempty"`
	Kind        string   `json:"kind,omitempty"`
	Problem     string   `json:"problem,omitempty"`
}

// Advise analyses a snapshot. With a Coster it also runs the index engine, which may fail (a
// lost connection); the rest of the report stands, and the error says what is missing.
func Advise(ctx context.Context, snap *dbstate.Snapshot, o Options) (*Report, error) {
	if o.Top <= 0 {
		o.Top = 10
	}
	now := o.Now
	if now.IsZero() {
		now = snap.TakenAt
	}
	cat := dbstate.NewCatalog(snap)
	w := build.Workload(snap, cat, o.Progress)

	var findings []finding.Finding
	findings = append(findings, rewrite.Analyze(w, cat)...)
	findings = append(findings, audit.Analyze(cat, now)...)
	findings = append(findings, health.Analyze(cat, w)...)
	findings = append(findings, cluster.Analyze(snap)...)
	findings = append(findings, settings.Analyze(snap, o.Instance)...)
	findings = append(findings, maintenance.Findings(snap)...)
	var engineErr error
	var engineGaps []dbstate.Gap
	if st := snap.Statements; st.Hidden > 0 && snap.Source == "live" {
		engineGaps = append(engineGaps, dbstate.Gap{What: "statements",
			Reason: fmt.Sprintf("%d statements of other roles are hidden from %s (%d calls): GRANT pg_read_all_stats TO %s; (or GRANT pg_monitor)", st.Hidden, snap.Server.User, st.HiddenCalls, quote.Ident(snap.Server.User))})
	}
	coster, estimated := o.Coster, false
	if coster == nil && o.EstimateIndexes {
		coster, estimated = indexes.NewEstimator(w, cat), true
	}
	if coster != nil {
		cands := indexes.Generate(w, cat)
		if !estimated && o.Indexes.MaxTexts == 0 {
			o.Indexes.MaxTexts = PlannerTextCap(snap, w)
		}
		res, err := indexes.Select(ctx, w, cat, cands, coster, o.Indexes)
		grant := prereq.PlannerGrant(snap.Server.User, snap.Server.VersionNum)
		var denied *indexes.DeniedError
		switch {
		case errors.Is(err, indexes.ErrInterrupted):
			// Interrupted is not a gap in a report: there is no report.
			return nil, err
		case errors.As(err, &denied):
			engineErr = fmt.Errorf("index engine: %w; fix: %s", err, grant)
			engineGaps = append(engineGaps, dbstate.Gap{What: "planner proofs",
				Reason: fmt.Sprintf("EXPLAIN was refused on all %d statements that read tables (no SELECT on %s), so there is no index advice: %s", denied.Statements, strings.Join(denied.Tables, ", "), grant)})
		case err != nil:
			engineErr = fmt.Errorf("index engine: %w", err)
			engineGaps = append(engineGaps, dbstate.Gap{What: "index advice", Reason: fmt.Sprintf("the index engine failed (%v); the rest of the report stands", err)})
		default:
			findings = append(findings, indexes.Findings(res, w, !estimated, estimated)...)
			if res.Unplanned > 0 {
				engineGaps = append(engineGaps, UnplannedGap(snap, res.Unplanned))
			}
			if len(res.Denied) > 0 {
				engineGaps = append(engineGaps, dbstate.Gap{What: "planner proofs",
					Reason: fmt.Sprintf("EXPLAIN was refused on %d statements (no SELECT on %s): no index advice covers them; %s", len(res.Denied), strings.Join(res.DeniedTables, ", "), grant)})
			}
		}
	}
	Rank(findings)
	if findings == nil {
		findings = []finding.Finding{}
	}

	r := &Report{
		Source: Source{Kind: snap.Source, Database: snap.Server.Database, ServerVersion: snap.Server.Version,
			TakenAt: snap.TakenAt, StatsReset: snap.Server.StatsReset, StatementsReset: snap.Statements.StatsReset,
			Tables: len(snap.Tables), Indexes: len(snap.Indexes), Gaps: append(slices.Clone(snap.Gaps), engineGaps...),
			Replicas: replicaSources(snap), StreamingReplicas: snap.StreamingReplicas},
		Summary: WorkloadSummary{Statements: len(w.Statements), Calls: w.TotalCalls, TotalExecMs: finding.Round(w.TotalExecMs, 3),
			HiddenRows: snap.Statements.Hidden, OwnRows: snap.Statements.Own, InternalRows: snap.Statements.Internal, Unmodelled: w.Unmodelled, Tables: w.Tables},
		Findings: findings,
		Workload: w,
		Catalog:  cat,
	}
	for i, ws := range w.Statements {
		if i == o.Top {
			break
		}
		ts := TopStatement{Rank: i + 1, StatementEvidence: finding.StatementOf(ws), RowsPerCall: finding.Round(ws.RowsPerCall(), 3), Problem: string(ws.Problem)}
		if ws.Model != nil {
			ts.Kind = string(ws.Model.Kind)
			ts.Tables = ws.Model.TableKeys()
		}
		r.Summary.Top = append(r.Summary.Top, ts)
	}
	if r.Summary.Tables == nil {
		r.Summary.Tables = []*workload.TableAccess{}
	}
	return r, engineErr
}

// PlannerTextCap is how many statement texts the index engine may plan on a live server
// without pushing pg_stat_statements past its max (0: no cap); see indexes.TextBudget.
func PlannerTextCap(snap *dbstate.Snapshot, w *workload.Workload) int {
	track, _ := snap.Setting("pg_stat_statements.track")
	texts := 0
	for _, ws := range w.Statements {
		texts += max(1, len(ws.Texts))
	}
	limit, _ := indexes.TextBudget(snap.Statements, track, texts)
	return limit
}

// UnplannedGap names the statements the text cap left unplanned, and the fix.
func UnplannedGap(snap *dbstate.Snapshot, n int) dbstate.Gap {
	return dbstate.Gap{What: "planner proofs",
		Reason: fmt.Sprintf("%d of the least costly statements were not planned: with pg_stat_statements.track = all each statement pgtune plans is recorded as a nested statement of its role, and pg_stat_statements (%d of %d entries used) has no room for more without evicting the application's; GRANT SET ON PARAMETER pg_stat_statements.track TO %s; (15+) lets pgtune record nothing, or raise pg_stat_statements.max",
			n, snap.Statements.Entries, snap.Statements.Max, quote.Ident(snap.Server.User))}
}

// Rank orders findings: most severe first, then by the share of the workload (or of the
// database) they concern, then by rule, table and title so the order is stable.
func Rank(fs []finding.Finding) {
	slices.SortStableFunc(fs, func(a, b finding.Finding) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Impact, a.Impact); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Table, b.Table); c != 0 {
			return c
		}
		return cmp.Compare(a.Title, b.Title)
	})
}

func replicaSources(snap *dbstate.Snapshot) []ReplicaSource {
	var out []ReplicaSource
	for _, r := range snap.Replicas {
		rs := ReplicaSource{Name: r.Name, ServerVersion: r.Server.Version, StatsReset: r.Server.StatsReset, Error: r.Error,
			Statements: len(r.Statements.Rows)}
		for _, row := range r.Statements.Rows {
			rs.Calls += row.Calls
		}
		out = append(out, rs)
	}
	return out
}
