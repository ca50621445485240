// Package maintenance plans and runs the VACUUM, ANALYZE and FREEZE work a nightly job should do.
//
// plan.go is pure: from a snapshot (tables with their statistics, reloptions and transaction-ID
// ages; the server's settings; what holds back the xmin horizon) it computes, with autovacuum's
// own trigger formulas and every per-table override respected, which tables need what and why,
// ranks them (wraparound first) and estimates each action's duration from the table's size or,
// when a history of past runs is given, from how fast that table went last time. run.go executes
// a plan inside a time window without ever blocking the application (lock_timeout, SKIP_LOCKED);
// schedule.go renders crontab, systemd, Kubernetes and pg_cron scheduling for it.
package maintenance

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Operation is what an action does to a table.
type Operation string

// Operations.
const (
	OpFreeze  Operation = "freeze"  // VACUUM (FREEZE): wraparound
	OpVacuum  Operation = "vacuum"  // VACUUM: dead rows, or inserts not yet in the visibility map
	OpAnalyze Operation = "analyze" // ANALYZE: stale or missing statistics
)

// Reason is one trigger that fired, with the numbers.
type Reason struct {
	// Rule names the trigger: xid_age, mxid_age, dead_tuples, inserts, modifications,
	// never_analyzed, partitioned_parent.
	Rule string `json:"rule"`
	Text string `json:"text"`
	// Value and Threshold are the observed figure and the trigger it passed.
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
}

// Action is the work one table needs.
type Action struct {
	Table string `json:"table"` // schema.name
	// Kind is "table", "partitioned" or "matview".
	Kind    string      `json:"kind"`
	Ops     []Operation `json:"ops"`
	Reasons []Reason    `json:"reasons"`
	// Urgency orders the plan: wraparound first (1000 + % of autovacuum_freeze_max_age), then
	// vacuum (100 + how far past its trigger), then analyze.
	Urgency  float64          `json:"urgency"`
	Severity finding.Severity `json:"severity"`
	Pages    int64            `json:"pages"`
	Bytes    int64            `json:"size_bytes"`
	Indexes  int              `json:"indexes"`
	// DeadTuples and LiveTuples are the statistics' counts; EstimatedBloat is the dead share of
	// the heap (an estimate from the statistics, not a page scan).
	DeadTuples     int64   `json:"dead_tuples"`
	LiveTuples     int64   `json:"live_tuples"`
	EstimatedBloat float64 `json:"estimated_bloat"`
	// Emergency: the table is past autovacuum_freeze_max_age (or its multixact twin), so the freeze
	// skips index cleanup to finish sooner (what PostgreSQL's failsafe does at 1.6 billion).
	Emergency bool `json:"emergency,omitempty"`
	// Estimate is the expected duration; EstimateBasis says where it came from.
	Estimate      time.Duration `json:"estimate_ns"`
	EstimateBasis string        `json:"estimate_basis"`
	// NotPermitted says why the role cannot do it (it does not own the table; on 17+ it lacks
	// MAINTAIN) and the grant that fixes it: PostgreSQL would skip the table with a warning.
	NotPermitted string `json:"not_permitted,omitempty"`
}

// MaintainFix is the grant that lets role VACUUM and ANALYZE table (owned by owner).
func MaintainFix(table, owner, role string, version int) string {
	t := quoteQualified(table)
	if version >= 170000 {
		return fmt.Sprintf("GRANT MAINTAIN ON TABLE %s TO %s; (or GRANT pg_maintain TO %s for every table)", t, quote.Ident(role), quote.Ident(role))
	}
	if owner == "" {
		owner = "<owner>"
	}
	return fmt.Sprintf("run it as the table's owner %s, or GRANT %s TO %s; (PostgreSQL 17 adds the MAINTAIN privilege and pg_maintain)",
		owner, quote.Ident(owner), quote.Ident(role))
}

// Has reports whether the action includes op.
func (a *Action) Has(op Operation) bool {
	for _, o := range a.Ops {
		if o == op {
			return true
		}
	}
	return false
}

// Plan is the ranked work for one database, and what would stop freezing from helping.
type Plan struct {
	Database      string            `json:"database"`
	ServerVersion int               `json:"server_version_num"`
	Actions       []Action          `json:"actions"`
	Blockers      []dbstate.Blocker `json:"blockers"`
	// FreezeMaxAge is autovacuum_freeze_max_age, the scale of every xid_age reason.
	FreezeMaxAge int64 `json:"autovacuum_freeze_max_age"`
	// Total is the sum of the estimates.
	Total time.Duration `json:"total_estimate_ns"`
}

// Throughput assumptions for estimates without history: an unthrottled manual VACUUM reads
// about 20,000 pages (160MB) a second from a warm cache and SSD, a FREEZE writes most pages it
// reads, and ANALYZE reads a sample of 300 × default_statistics_target rows.
const (
	vacuumPagesPerSecond = 20_000
	freezePagesPerSecond = 8_000
	analyzeSeconds       = 0.5
	indexFactor          = 0.5 // each index adds half the heap's work to VACUUM's index phase, roughly
)

// History is what past runs measured: seconds per page for a table and operation.
type History map[string]float64

// HistoryKey is the key of a table and operation in a History.
func HistoryKey(table string, op Operation) string { return table + " " + string(op) }

// settings reads the server's settings a plan needs.
type settings struct{ snap *dbstate.Snapshot }

func (s settings) float(name string, def float64) float64 {
	v, ok := s.snap.Setting(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return def
	}
	return f
}

// reloption reads a per-table override, falling back to the server's setting.
func reloption(t *dbstate.Table, name string, server float64) float64 {
	for _, o := range t.Reloptions {
		k, v, ok := strings.Cut(o, "=")
		if ok && k == name {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		}
	}
	return server
}

func reloptionOff(t *dbstate.Table, name string) bool {
	for _, o := range t.Reloptions {
		if strings.EqualFold(o, name+"=false") || strings.EqualFold(o, name+"=off") {
			return true
		}
	}
	return false
}

// Options tune a plan.
type Options struct {
	// Now is the time the plan is made at (the snapshot's time by default).
	Now time.Time
	// FreezeShare is the share of autovacuum_freeze_max_age from which a table is frozen now
	// rather than left to a forced anti-wraparound vacuum at a bad time (default 0.5).
	FreezeShare float64
	// History calibrates estimates from past runs (pgtune maintain run --history).
	History History
	// Tables restricts the plan to these schema.name tables (empty: all).
	Tables []string
}

// Build plans the maintenance snap's tables need.
func Build(snap *dbstate.Snapshot, o Options) *Plan {
	if o.FreezeShare <= 0 {
		o.FreezeShare = 0.5
	}
	st := settings{snap}
	freezeMax := st.float("autovacuum_freeze_max_age", 200_000_000)
	mxidMax := st.float("autovacuum_multixact_freeze_max_age", 400_000_000)
	p := &Plan{Database: snap.Server.Database, ServerVersion: snap.Server.VersionNum, Blockers: snap.Blockers, FreezeMaxAge: int64(freezeMax)}
	if p.Blockers == nil {
		p.Blockers = []dbstate.Blocker{}
	}
	only := map[string]bool{}
	for _, t := range o.Tables {
		only[t] = true
	}
	for i := range snap.Tables {
		t := &snap.Tables[i]
		if len(only) > 0 && !only[t.Key()] {
			continue
		}
		if t.Persistence == "temporary" {
			continue
		}
		if a := planTable(t, st, snap.Server.VersionNum, freezeMax, mxidMax, o); a != nil {
			if t.NoMaintain {
				a.NotPermitted = fmt.Sprintf("%s may not vacuum or analyse %s (owner %s): %s", snap.Server.User, t.Key(), t.Owner,
					MaintainFix(t.Key(), t.Owner, snap.Server.User, snap.Server.VersionNum))
			}
			p.Actions = append(p.Actions, *a)
		}
	}
	sort.SliceStable(p.Actions, func(i, j int) bool {
		if p.Actions[i].Urgency != p.Actions[j].Urgency {
			return p.Actions[i].Urgency > p.Actions[j].Urgency
		}
		return p.Actions[i].Table < p.Actions[j].Table
	})
	if p.Actions == nil {
		p.Actions = []Action{}
	}
	for _, a := range p.Actions {
		p.Total += a.Estimate
	}
	return p
}

func planTable(t *dbstate.Table, st settings, version int, freezeMax, mxidMax float64, o Options) *Action {
	a := &Action{Table: t.Key(), Kind: t.Kind, Pages: t.Pages, Bytes: t.SizeBytes, Indexes: t.IndexCount}
	rows := math.Max(t.RowEstimate, 0)
	add := func(op Operation, r Reason, urgency float64, sev finding.Severity) {
		if !a.Has(op) {
			a.Ops = append(a.Ops, op)
		}
		a.Reasons = append(a.Reasons, r)
		a.Urgency = math.Max(a.Urgency, urgency)
		a.Severity = max(a.Severity, sev)
	}

	if t.Kind == "partitioned" {
		// Autovacuum never analyses a partitioned parent: queries over the whole table then plan
		// without statistics for it.
		if !t.InheritedStats {
			add(OpAnalyze, Reason{Rule: "partitioned_parent", Text: "partitioned parent never analysed: autovacuum analyses only its partitions"}, 50, finding.SeverityMedium)
		}
		return finish(a, t, o)
	}

	// Wraparound: a table's own freeze_max_age may only be lower than the server's.
	for _, w := range []struct {
		rule, what, setting string
		age                 int64
		server              float64
	}{
		{"xid_age", "transaction ID age", "autovacuum_freeze_max_age", t.XIDAge, freezeMax},
		{"mxid_age", "multixact age", "autovacuum_multixact_freeze_max_age", t.MXIDAge, mxidMax},
	} {
		limit := math.Min(reloption(t, w.setting, w.server), w.server)
		share := float64(w.age) / limit
		if share < o.FreezeShare {
			continue
		}
		sev := finding.SeverityMedium
		if share >= 1 {
			sev = finding.SeverityHigh
			a.Emergency = true
		}
		add(OpFreeze, Reason{Rule: w.rule, Value: float64(w.age), Threshold: limit,
			Text: fmt.Sprintf("%s %d is %.0f %% of %s %.0f", w.what, w.age, share*100, w.setting, limit)}, 1000+share*100, sev)
	}

	s := t.Stats
	if s == nil {
		return finish(a, t, o)
	}
	a.DeadTuples, a.LiveTuples = s.DeadTuples, s.LiveTuples
	if s.DeadTuples+s.LiveTuples > 0 {
		a.EstimatedBloat = float64(s.DeadTuples) / float64(s.DeadTuples+s.LiveTuples)
	}
	// Dead tuples: threshold + scale × reltuples, capped by 18's autovacuum_vacuum_max_threshold.
	vacTrigger := reloption(t, "autovacuum_vacuum_threshold", st.float("autovacuum_vacuum_threshold", 50)) +
		reloption(t, "autovacuum_vacuum_scale_factor", st.float("autovacuum_vacuum_scale_factor", 0.2))*rows
	if version >= 180000 {
		if capAt := reloption(t, "autovacuum_vacuum_max_threshold", st.float("autovacuum_vacuum_max_threshold", 100_000_000)); capAt >= 0 {
			vacTrigger = math.Min(vacTrigger, capAt)
		}
	}
	if s.DeadTuples > 0 && float64(s.DeadTuples) > vacTrigger {
		pressure := float64(s.DeadTuples) / vacTrigger
		sev := finding.SeverityLow
		if pressure >= 4 {
			sev = finding.SeverityMedium
		}
		why := fmt.Sprintf("%d dead rows passed autovacuum's trigger of %.0f (%.1f×)", s.DeadTuples, vacTrigger, pressure)
		if reloptionOff(t, "autovacuum_enabled") {
			why += "; autovacuum is off for this table"
		}
		add(OpVacuum, Reason{Rule: "dead_tuples", Value: float64(s.DeadTuples), Threshold: vacTrigger, Text: why}, 100+math.Min(pressure, 100), sev)
	}
	// Inserts since the last vacuum (13+): set the visibility map and freeze before a forced vacuum.
	insThreshold := reloption(t, "autovacuum_vacuum_insert_threshold", st.float("autovacuum_vacuum_insert_threshold", 1000))
	insTrigger := insThreshold + reloption(t, "autovacuum_vacuum_insert_scale_factor", st.float("autovacuum_vacuum_insert_scale_factor", 0.2))*rows
	if insThreshold >= 0 && s.InsSinceVacuum > 0 && float64(s.InsSinceVacuum) > insTrigger { // -1 turns it off
		pressure := float64(s.InsSinceVacuum) / insTrigger
		add(OpVacuum, Reason{Rule: "inserts", Value: float64(s.InsSinceVacuum), Threshold: insTrigger,
			Text: fmt.Sprintf("%d rows inserted since the last vacuum passed the insert trigger of %.0f", s.InsSinceVacuum, insTrigger)},
			100+math.Min(pressure, 100)/2, finding.SeverityLow)
	}
	// Analyze.
	anTrigger := reloption(t, "autovacuum_analyze_threshold", st.float("autovacuum_analyze_threshold", 50)) +
		reloption(t, "autovacuum_analyze_scale_factor", st.float("autovacuum_analyze_scale_factor", 0.1))*rows
	switch {
	case s.LastAnalyzed() == nil && s.LiveTuples+s.Inserts > 0:
		// A handful of rows (a migrations table) is planned well enough without statistics.
		sev, urgency := finding.SeverityMedium, 60.0
		if s.LiveTuples+s.Inserts < 1000 {
			sev, urgency = finding.SeverityLow, 20
		}
		add(OpAnalyze, Reason{Rule: "never_analyzed", Text: "never analysed: the planner guesses its row counts"}, urgency, sev)
	case s.ModSinceAnalyze > 0 && float64(s.ModSinceAnalyze) > anTrigger:
		pressure := float64(s.ModSinceAnalyze) / anTrigger
		add(OpAnalyze, Reason{Rule: "modifications", Value: float64(s.ModSinceAnalyze), Threshold: anTrigger,
			Text: fmt.Sprintf("%d rows changed since the last analyse passed the trigger of %.0f", s.ModSinceAnalyze, anTrigger)},
			10+math.Min(pressure, 40), finding.SeverityLow)
	}
	return finish(a, t, o)
}

// finish drops tables with nothing to do and estimates the rest.
func finish(a *Action, t *dbstate.Table, o Options) *Action {
	if len(a.Ops) == 0 {
		return nil
	}
	// A freeze is a vacuum; an analyze rides along with a vacuum.
	if a.Has(OpFreeze) {
		a.Ops = dropOp(a.Ops, OpVacuum)
	}
	sort.SliceStable(a.Ops, func(i, j int) bool { return opOrder(a.Ops[i]) < opOrder(a.Ops[j]) })
	a.Estimate, a.EstimateBasis = estimate(a, o.History)
	return a
}

func opOrder(op Operation) int {
	return map[Operation]int{OpFreeze: 0, OpVacuum: 1, OpAnalyze: 2}[op]
}

func dropOp(ops []Operation, drop Operation) []Operation {
	var out []Operation
	for _, o := range ops {
		if o != drop {
			out = append(out, o)
		}
	}
	return out
}

// mainOp is the operation that dominates an action's time.
func (a *Action) mainOp() Operation { return a.Ops[0] }

// estimate is the expected duration: from the history's seconds per page for this table and
// operation when there is one, else from the throughput assumptions.
func estimate(a *Action, h History) (time.Duration, string) {
	pages := float64(max(a.Pages, 1))
	op := a.mainOp()
	if spp, ok := h[HistoryKey(a.Table, op)]; ok && spp > 0 {
		d := time.Duration(spp * pages * float64(time.Second))
		if a.Has(OpAnalyze) && op != OpAnalyze {
			d += time.Duration(analyzeSeconds * float64(time.Second))
		}
		return d.Round(time.Millisecond), "past runs of this table"
	}
	var secs float64
	switch op {
	case OpFreeze:
		secs = pages / freezePagesPerSecond * (1 + indexFactor*float64(a.Indexes))
	case OpVacuum:
		secs = pages / vacuumPagesPerSecond * (1 + indexFactor*float64(a.Indexes))
	}
	if a.Has(OpAnalyze) {
		secs += analyzeSeconds
	}
	return time.Duration(math.Max(secs, 0.05) * float64(time.Second)).Round(time.Millisecond), "size (no past run)"
}
