package prereq

import (
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/finding"
)

// ready is a server with every prerequisite in place; each case below breaks one thing.
func ready() *State {
	return &State{
		ServerVersion: "15.18", ServerVersionNum: 150018, Database: "booking", User: "dba", ReadAllStats: true,
		SharedPreloadLibraries: "pg_stat_statements", PGSSLoaded: true, TrackIOTiming: "on", ComputeQueryID: "on",
		PGSSTrack: "all", PGSSMax: 5000, PGSSInstalled: "1.10", PGSSSchema: "public", PGSSDefault: "1.10",
		PGSSDealloc: 0, HypoPGAvailable: true, HypoPGInstalled: "1.3.1", Tables: 12, MayUntrack: true,
	}
}

func TestEvaluateReadyServerHasNoFindings(t *testing.T) {
	checks := Evaluate(ready())
	if f := Findings(checks); len(f) != 0 {
		t.Fatalf("findings on a ready server: %+v", f)
	}
	if len(checks) < 9 {
		t.Errorf("only %d checks ran", len(checks))
	}
}

func TestEvaluateMatrix(t *testing.T) {
	cases := []struct {
		name     string
		breakIt  func(*State)
		rule     string
		severity finding.Severity
		fix      string
	}{
		{"pg_monitor cannot EXPLAIN", func(s *State) { s.Unreadable, s.UnreadableExamples = 12, []string{"public.appointments"} },
			"check.privileges.planner_proofs", finding.SeverityHigh, "GRANT pg_read_all_data TO dba"},
		{"pgtune's statements recorded", func(s *State) { s.MayUntrack = false },
			"check.privileges.untrack", finding.SeverityInfo, "GRANT SET ON PARAMETER pg_stat_statements.track TO dba"},
		{"old server", func(s *State) { s.ServerVersion, s.ServerVersionNum = "12.20", 120020 },
			"check.server.unsupported_version", finding.SeverityCritical, "upgrade"},
		{"not preloaded, other libraries kept", func(s *State) { s.SharedPreloadLibraries, s.PGSSLoaded = "auto_explain", false },
			"check.pg_stat_statements.not_preloaded", finding.SeverityCritical, "shared_preload_libraries = 'auto_explain,pg_stat_statements'"},
		{"not preloaded, empty", func(s *State) { s.SharedPreloadLibraries, s.PGSSLoaded = "", false },
			"check.pg_stat_statements.not_preloaded", finding.SeverityCritical, "shared_preload_libraries = 'pg_stat_statements'"},
		{"not loaded, list hidden from this user", func(s *State) { s.SharedPreloadLibraries, s.SettingsHidden, s.PGSSLoaded = "", true, false },
			"check.pg_stat_statements.not_preloaded", finding.SeverityCritical, "keeping the libraries already there"},
		{"contrib missing", func(s *State) { s.PGSSDefault, s.PGSSInstalled = "", "" },
			"check.pg_stat_statements.not_available", finding.SeverityCritical, "postgresql-contrib"},
		{"not created", func(s *State) { s.PGSSInstalled = "" },
			"check.pg_stat_statements.not_created", finding.SeverityHigh, "CREATE EXTENSION pg_stat_statements;"},
		{"outdated after pg_upgrade", func(s *State) { s.PGSSInstalled, s.PGSSDefault = "1.8", "1.11" },
			"check.pg_stat_statements.outdated", finding.SeverityLow, "ALTER EXTENSION pg_stat_statements UPDATE;"},
		{"track none", func(s *State) { s.PGSSTrack = "none" },
			"check.pg_stat_statements.track_none", finding.SeverityHigh, "pg_stat_statements.track = 'top'"},
		{"compute_query_id off", func(s *State) { s.ComputeQueryID = "off" },
			"check.compute_query_id.off", finding.SeverityHigh, "compute_query_id = 'auto'"},
		{"no pg_read_all_stats", func(s *State) { s.ReadAllStats, s.User = false, "App User" },
			"check.privileges.read_all_stats", finding.SeverityHigh, `GRANT pg_read_all_stats TO "App User"`},
		{"evictions", func(s *State) { s.PGSSDealloc = 42 },
			"check.pg_stat_statements.evictions", finding.SeverityLow, "pg_stat_statements.max = 10000"},
		{"io timing off", func(s *State) { s.TrackIOTiming = "off" },
			"check.track_io_timing.off", finding.SeverityLow, "track_io_timing = on"},
		{"hypopg missing", func(s *State) { s.HypoPGAvailable, s.HypoPGInstalled = false, "" },
			"check.hypopg.not_available", finding.SeverityMedium, "postgresql-15-hypopg"},
		{"hypopg not created", func(s *State) { s.HypoPGInstalled = "" },
			"check.hypopg.not_created", finding.SeverityLow, "CREATE EXTENSION hypopg;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ready()
			c.breakIt(s)
			findings := Findings(Evaluate(s))
			if len(findings) != 1 {
				t.Fatalf("want exactly one finding, got %d: %+v", len(findings), findings)
			}
			f := findings[0]
			if f.Rule != c.rule || f.Severity != c.severity {
				t.Errorf("got %s/%s, want %s/%s", f.Rule, f.Severity, c.rule, c.severity)
			}
			if !strings.Contains(f.Fix(), c.fix) {
				t.Errorf("fix %q does not contain %q", f.Fix(), c.fix)
			}
			if f.Title == "" {
				t.Error("finding without a title")
			}
		})
	}
}

func TestVersionAtLeast(t *testing.T) {
	cases := []struct {
		v        string
		maj, min int
		want     bool
	}{{"1.10", 1, 9, true}, {"1.9", 1, 9, true}, {"1.8", 1, 9, false}, {"2.0", 1, 11, true}, {"x", 1, 0, false}}
	for _, c := range cases {
		if got := versionAtLeast(c.v, c.maj, c.min); got != c.want {
			t.Errorf("versionAtLeast(%q, %d, %d) = %v", c.v, c.maj, c.min, got)
		}
	}
}
