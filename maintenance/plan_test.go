package maintenance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
)

var now = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

func ts(d time.Duration) *time.Time { t := now.Add(-d); return &t }

func snapshot(tables ...dbstate.Table) *dbstate.Snapshot {
	return &dbstate.Snapshot{
		Server: dbstate.Server{VersionNum: 150018, Database: "booking"},
		Settings: []dbstate.Setting{
			{Name: "autovacuum_freeze_max_age", Setting: "200000000"},
			{Name: "autovacuum_vacuum_threshold", Setting: "50"},
			{Name: "autovacuum_vacuum_scale_factor", Setting: "0.2"},
			{Name: "autovacuum_analyze_threshold", Setting: "50"},
			{Name: "autovacuum_analyze_scale_factor", Setting: "0.1"},
		},
		Tables: tables,
	}
}

func table(name string, rows float64, s *dbstate.TableStats) dbstate.Table {
	return dbstate.Table{Schema: "public", Name: name, Kind: "table", RowEstimate: rows, Pages: int64(rows / 50), SizeBytes: int64(rows / 50 * 8192), Stats: s}
}

func analysed() *dbstate.TableStats {
	return &dbstate.TableStats{LiveTuples: 100_000, LastAutoanalyze: ts(time.Hour)}
}

func TestPlanTriggers(t *testing.T) {
	bloated := table("appointments", 100_000, &dbstate.TableStats{LiveTuples: 100_000, DeadTuples: 90_000, LastAutoanalyze: ts(time.Hour)})
	old := table("payments", 100_000, analysed())
	old.XIDAge = 150_000_000 // 75 %
	ancient := table("notifications", 100_000, analysed())
	ancient.XIDAge = 210_000_000 // past autovacuum_freeze_max_age
	appendOnly := table("audit_log", 1_000_000, &dbstate.TableStats{LiveTuples: 1_000_000, InsSinceVacuum: 400_000, LastAutoanalyze: ts(time.Hour)})
	stale := table("clients", 100_000, &dbstate.TableStats{LiveTuples: 100_000, ModSinceAnalyze: 30_000, LastAutoanalyze: ts(48 * time.Hour)})
	fresh := table("shops", 1000, &dbstate.TableStats{LiveTuples: 1000, LastAutoanalyze: ts(time.Hour)})
	never := table("reviews", 1000, &dbstate.TableStats{LiveTuples: 1000})
	parent := dbstate.Table{Schema: "public", Name: "events", Kind: "partitioned"}
	analysedParent := dbstate.Table{Schema: "public", Name: "metrics", Kind: "partitioned", InheritedStats: true}
	// Its own scale factor (0.5) puts it under the trigger that would otherwise fire.
	tuned := table("sessions", 100_000, &dbstate.TableStats{LiveTuples: 100_000, DeadTuples: 40_000, LastAutoanalyze: ts(time.Hour)})
	tuned.Reloptions = []string{"autovacuum_vacuum_scale_factor=0.5"}

	p := Build(snapshot(bloated, old, ancient, appendOnly, stale, fresh, never, parent, analysedParent, tuned), Options{})
	var order []string
	for _, a := range p.Actions {
		order = append(order, a.Table+":"+string(a.Ops[0]))
	}
	want := []string{
		"public.notifications:freeze", "public.payments:freeze", // wraparound first, oldest first
		"public.appointments:vacuum", "public.audit_log:vacuum", // dead rows (4.5× past) before inserts
		"public.reviews:analyze", "public.events:analyze", "public.clients:analyze",
	}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("order\n got %v\nwant %v", order, want)
	}
	byTable := map[string]Action{}
	for _, a := range p.Actions {
		byTable[a.Table] = a
	}
	if a := byTable["public.notifications"]; a.Severity != finding.SeverityHigh || a.Reasons[0].Rule != "xid_age" || !strings.Contains(a.Reasons[0].Text, "105 %") {
		t.Errorf("notifications: %+v", a)
	}
	if a := byTable["public.appointments"]; a.Reasons[0].Rule != "dead_tuples" || a.Reasons[0].Threshold != 20_050 || a.EstimatedBloat < 0.47 || a.EstimatedBloat > 0.48 {
		t.Errorf("appointments: %+v", a)
	}
	if a := byTable["public.audit_log"]; a.Reasons[0].Rule != "inserts" {
		t.Errorf("audit_log: %+v", a)
	}
	if _, ok := byTable["public.sessions"]; ok {
		t.Error("sessions' own scale factor keeps it under the trigger")
	}
	if _, ok := byTable["public.metrics"]; ok {
		t.Error("an analysed partitioned parent planned again")
	}
	if p.Total <= 0 {
		t.Error("no estimate")
	}
}

func TestPlanPerTableFreezeAge(t *testing.T) {
	tbl := table("hot", 100_000, analysed())
	tbl.XIDAge = 60_000_000
	tbl.Reloptions = []string{"autovacuum_freeze_max_age=100000000"} // lower than the server's: it counts
	if p := Build(snapshot(tbl), Options{}); len(p.Actions) != 1 || p.Actions[0].Ops[0] != OpFreeze {
		t.Errorf("%+v", p.Actions)
	}
	tbl.Reloptions = []string{"autovacuum_freeze_max_age=1000000000"} // higher: ignored, as PostgreSQL does
	if p := Build(snapshot(tbl), Options{}); len(p.Actions) != 0 {
		t.Errorf("%+v", p.Actions)
	}
}

func TestPlanEstimates(t *testing.T) {
	big := table("big", 10_000_000, &dbstate.TableStats{LiveTuples: 10_000_000, DeadTuples: 5_000_000, LastAutoanalyze: ts(time.Hour)})
	big.IndexCount = 2
	p := Build(snapshot(big), Options{})
	// 200,000 pages at 20,000 a second, doubled for two indexes' share.
	if a := p.Actions[0]; a.Estimate != 20*time.Second || a.EstimateBasis != "size (no past run)" {
		t.Errorf("estimate %v (%s)", a.Estimate, a.EstimateBasis)
	}
	p = Build(snapshot(big), Options{History: History{HistoryKey("public.big", OpVacuum): 0.0005}})
	if a := p.Actions[0]; a.Estimate != 100*time.Second || a.EstimateBasis != "past runs of this table" {
		t.Errorf("estimate from history %v (%s)", a.Estimate, a.EstimateBasis)
	}
}

func TestFindings(t *testing.T) {
	ancient := table("notifications", 100_000, analysed())
	ancient.XIDAge = 210_000_000
	bloated := table("appointments", 100_000, &dbstate.TableStats{LiveTuples: 100_000, DeadTuples: 90_000, LastAutoanalyze: ts(time.Hour)})
	mild := table("payments", 100_000, &dbstate.TableStats{LiveTuples: 100_000, DeadTuples: 30_000, LastAutoanalyze: ts(time.Hour)})
	snap := snapshot(ancient, bloated, mild)
	snap.Blockers = []dbstate.Blocker{
		{Kind: "session", Name: "pid 42 (app, worker)", XIDAge: 120_000_000, Detail: "idle in transaction: SELECT 1"},
		{Kind: "replication_slot", Name: "old_standby", XIDAge: 5_000_000, Detail: "physical slot, inactive"},
	}
	var rules []string
	for _, f := range Findings(snap) {
		rules = append(rules, fmt.Sprintf("%s %s %s", f.Rule, f.Table, f.Severity))
	}
	want := []string{
		"maintenance.wraparound public.notifications high",
		"maintenance.vacuum_overdue public.appointments medium", // 4.5× its trigger; payments' 1.5× is left to autovacuum
		"maintenance.xmin_horizon  high",
		"maintenance.xmin_horizon  low",
	}
	if strings.Join(rules, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range Findings(snap) {
		if f.SQL == "" && f.Action == "" {
			t.Errorf("%s has no fix", f.Rule)
		}
	}
}
