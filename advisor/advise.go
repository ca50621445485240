// Package advisor turns a snapshot of a database (collected live, read from a file, or imported
// from pg_dump and a pg_stat_statements export) into ranked, explained findings. It builds the
// workload model (every statement parsed into model.Statement, rows merged by fingerprint), runs
// the analysers (rewrite hints, the existing-index audit, statistics health) and ranks what they
// find. The analysers never import this package; it imports them.
package advisor

import (
	"github.com/bookedbarber/pgtune/advisor/settings"
	"github.com/bookedbarber/pgtune/maintenance"
	"github.com/bookedbarber/pgtune/pgconf"

	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bookedbarber/pgtune/advisor/audit"
	"github.com/bookedbarber/pgtune/advisor/health"
	"github.com/bookedbarber/pgtune/advisor/model"
	"github.com/bookedbarber/pgtune/advisor/rewrite"
	"github.com/bookedbarber/pgtune/indexes"
)

// Options control Advise.
type Options struct {
	// Top is how many statements the workload summary lists (default 10).
	Top int
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
	Source   Source          `json:"source"`
	Workload WorkloadSummary `json:"workload"`
	Findings []model.Finding `json:"findings"`
	// Workload model, for callers that go on (the index engine); not part of the JSON report.
	Model   *model.Workload `json:"-"`
	Catalog *model.Catalog  `json:"-"`
}

// Source says what was analysed.
type Source struct {
	// Kind is "live", "snapshot", "dump" or "demo".
	Kind            string      `json:"kind"`
	Database        string      `json:"database,omitempty"`
	ServerVersion   string      `json:"server_version,omitempty"`
	TakenAt         time.Time   `json:"taken_at"`
	StatsReset      *time.Time  `json:"stats_reset,omitempty"`
	StatementsReset *time.Time  `json:"statements_reset,omitempty"`
	Tables          int         `json:"tables"`
	Indexes         int         `json:"indexes"`
	Gaps            []model.Gap `json:"gaps,omitempty"`
}

// WorkloadSummary is the report's picture of the workload.
type WorkloadSummary struct {
	Statements  int     `json:"statements"`
	Calls       int64   `json:"calls"`
	TotalExecMs float64 `json:"total_exec_ms"`
	// Hidden counts rows of other roles the user could not read.
	HiddenRows int64                `json:"hidden_rows"`
	Unmodelled []model.ProblemCount `json:"unmodelled,omitempty"`
	// Top lists the statements with the most total execution time.
	Top []TopStatement `json:"top"`
	// Tables lists how the workload reaches each table, busiest first.
	Tables []*model.TableAccess `json:"tables"`
}

// TopStatement is a line of the workload summary.
type TopStatement struct {
	Rank int `json:"rank"`
	model.StatementEvidence
	RowsPerCall float64  `json:"rows_per_call"`
	Tables      []string `json:"tables,omitempty"`
	Kind        string   `json:"kind,omitempty"`
	Problem     string   `json:"problem,omitempty"`
}

// Advise analyses a snapshot. With a Coster it also runs the index engine, which may fail (a
// lost connection); the rest of the report stands, and the error says what is missing.
func Advise(ctx context.Context, snap *model.Snapshot, o Options) (*Report, error) {
	if o.Top <= 0 {
		o.Top = 10
	}
	now := o.Now
	if now.IsZero() {
		now = snap.TakenAt
	}
	cat := model.NewCatalog(snap)
	w := BuildWorkload(snap, cat)

	var findings []model.Finding
	findings = append(findings, rewrite.Analyze(w, cat)...)
	findings = append(findings, audit.Analyze(cat, now)...)
	findings = append(findings, health.Analyze(cat, w)...)
	findings = append(findings, settings.Analyze(snap, o.Instance)...)
	findings = append(findings, maintenance.Findings(snap)...)
	var engineErr error
	coster, estimated := o.Coster, false
	if coster == nil && o.EstimateIndexes {
		coster, estimated = indexes.NewEstimator(w, cat), true
	}
	if coster != nil {
		cands := indexes.Generate(w, cat)
		res, err := indexes.Select(ctx, w, cat, cands, coster, o.Indexes)
		if err != nil {
			engineErr = fmt.Errorf("index engine: %w", err)
		} else {
			findings = append(findings, indexes.Findings(res, w, !estimated, estimated)...)
		}
	}
	Rank(findings)
	if findings == nil {
		findings = []model.Finding{}
	}

	r := &Report{
		Source: Source{Kind: snap.Source, Database: snap.Server.Database, ServerVersion: snap.Server.Version,
			TakenAt: snap.TakenAt, StatsReset: snap.Server.StatsReset, StatementsReset: snap.Statements.StatsReset,
			Tables: len(snap.Tables), Indexes: len(snap.Indexes), Gaps: snap.Gaps},
		Workload: WorkloadSummary{Statements: len(w.Statements), Calls: w.TotalCalls, TotalExecMs: model.Round(w.TotalExecMs, 3),
			HiddenRows: snap.Statements.Hidden, Unmodelled: w.Unmodelled, Tables: w.Tables},
		Findings: findings,
		Model:    w,
		Catalog:  cat,
	}
	for i, ws := range w.Statements {
		if i == o.Top {
			break
		}
		ts := TopStatement{Rank: i + 1, StatementEvidence: ws.Evidence(), RowsPerCall: model.Round(ws.RowsPerCall(), 3), Problem: string(ws.Problem)}
		if ws.Model != nil {
			ts.Kind = string(ws.Model.Kind)
			ts.Tables = ws.Model.TableKeys()
		}
		r.Workload.Top = append(r.Workload.Top, ts)
	}
	if r.Workload.Tables == nil {
		r.Workload.Tables = []*model.TableAccess{}
	}
	return r, engineErr
}

// Rank orders findings: most severe first, then by the share of the workload (or of the
// database) they concern, then by rule, table and title so the order is stable.
func Rank(fs []model.Finding) {
	slices.SortStableFunc(fs, func(a, b model.Finding) int {
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
