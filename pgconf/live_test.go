package pgconf

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
)

var collected = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time { t := collected.Add(-d); return &t }

// liveSnap is a PostgreSQL 16 server with default settings and quiet counters; tests make one
// part of it loud.
func liveSnap() *dbstate.Snapshot {
	return &dbstate.Snapshot{
		Server: dbstate.Server{VersionNum: 160004},
		Settings: []dbstate.Setting{
			{Name: "max_wal_size", Setting: "1024", Unit: "MB"},
			{Name: "checkpoint_timeout", Setting: "300", Unit: "s"},
			{Name: "work_mem", Setting: "4096", Unit: "kB"},
			{Name: "shared_buffers", Setting: "16384", Unit: "8kB"},
			{Name: "max_connections", Setting: "100"},
			{Name: "autovacuum_freeze_max_age", Setting: "200000000"},
			{Name: "autovacuum_max_workers", Setting: "3"},
			{Name: "autovacuum_vacuum_threshold", Setting: "50"},
			{Name: "autovacuum_vacuum_scale_factor", Setting: "0.2"},
			{Name: "autovacuum_vacuum_cost_limit", Setting: "-1"},
			{Name: "shared_preload_libraries", Setting: "pg_cron"},
		},
		Activity: &dbstate.ServerActivity{
			CollectedAt: collected, CheckpointsTimed: 100, CheckpointsRequested: 2, CheckpointsSince: ago(48 * time.Hour),
			WALBytes: 10 * GB, WALSince: ago(48 * time.Hour),
			BlocksHit: 999_000_000, BlocksRead: 1_000_000, DatabaseSince: ago(48 * time.Hour),
			ClientBackends: 20, ActiveBackends: 5, OldestXIDAge: 50_000_000, OldestXIDDatabase: "booking", OldestMXIDAge: 10,
		},
	}
}

func rules(signals []Signal) []string {
	var out []string
	for _, s := range signals {
		out = append(out, s.Rule)
	}
	return out
}

func TestAssessQuiet(t *testing.T) {
	if s := Assess(liveSnap()); len(s) != 0 {
		t.Errorf("a healthy server gave %v", rules(s))
	}
	snap := liveSnap()
	snap.Activity = nil
	if s := Assess(snap); s != nil {
		t.Errorf("no activity, yet %v", rules(s))
	}
}

func TestAssessRules(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*dbstate.Snapshot)
		rule     string
		severity finding.Severity
		suggest  string
		inTitle  string
	}{
		{"requested checkpoints", func(s *dbstate.Snapshot) {
			s.Activity.CheckpointsRequested = 60 // 60 of 160 requested
			s.Activity.WALBytes = 96 * GB        // 2GB an hour: 167MB per 5 min checkpoint_timeout
		}, "settings.checkpoints_requested", finding.SeverityLow, "2GB", "raise max_wal_size to 2GB"},
		{"mostly requested, heavy WAL", func(s *dbstate.Snapshot) {
			s.Activity.CheckpointsRequested = 400
			s.Activity.WALBytes = 48 * 60 * GB // 60GB an hour: 5GB per checkpoint_timeout, twice that rounded up
		}, "settings.checkpoints_requested", finding.SeverityMedium, "16GB", "to 16GB"},
		{"small spills", func(s *dbstate.Snapshot) {
			s.Activity.TempFiles, s.Activity.TempBytes = 4800, 4800*10*MB // 100 an hour, 10MB each
		}, "settings.temp_spills", finding.SeverityMedium, "16MB", "raise work_mem to 16MB"},
		{"huge spills", func(s *dbstate.Snapshot) {
			s.Activity.TempFiles, s.Activity.TempBytes = 100, 100*GB
		}, "settings.temp_spills", finding.SeverityLow, "", "far beyond work_mem"},
		{"cache misses", func(s *dbstate.Snapshot) {
			s.Activity.BlocksRead = 100_000_000 // 90.9 %
		}, "settings.cache_hit_ratio", finding.SeverityMedium, "", "hit ratio 90.9 %"},
		{"connections near the limit", func(s *dbstate.Snapshot) {
			s.Activity.ClientBackends = 96
		}, "settings.connections_near_limit", finding.SeverityHigh, "", "96 of 100"},
		{"idle connections", func(s *dbstate.Snapshot) {
			s.Settings[4].Setting = "500"
			s.Activity.ClientBackends, s.Activity.ActiveBackends = 300, 4
		}, "settings.connections_idle", finding.SeverityLow, "", "300 connections open, 4 running"},
		{"wraparound", func(s *dbstate.Snapshot) {
			s.Activity.OldestXIDAge = 250_000_000
		}, "settings.wraparound_age", finding.SeverityHigh, "", "125 %"},
		{"wraparound emergency", func(s *dbstate.Snapshot) {
			s.Activity.OldestXIDAge = 1_600_000_000
		}, "settings.wraparound_age", finding.SeverityCritical, "", "booking"},
		{"autovacuum behind", func(s *dbstate.Snapshot) {
			for i := range 4 {
				s.Tables = append(s.Tables, dbstate.Table{Schema: "public", Name: "t" + string(rune('a'+i)), RowEstimate: 100_000,
					Stats: &dbstate.TableStats{DeadTuples: 50_000, LastAutovacuum: ago(72 * time.Hour)}})
			}
			// Recently vacuumed, or under the threshold: not behind.
			s.Tables = append(s.Tables, dbstate.Table{Schema: "public", Name: "fresh", RowEstimate: 100_000,
				Stats: &dbstate.TableStats{DeadTuples: 50_000, LastAutovacuum: ago(time.Hour)}})
			s.Tables = append(s.Tables, dbstate.Table{Schema: "public", Name: "big", RowEstimate: 10_000_000,
				Stats: &dbstate.TableStats{DeadTuples: 50_000}})
		}, "settings.autovacuum_behind", finding.SeverityMedium, "", "behind on 4 tables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := liveSnap()
			tt.edit(snap)
			signals := Assess(snap)
			if len(signals) != 1 || signals[0].Rule != tt.rule {
				t.Fatalf("got %v, want only %s", rules(signals), tt.rule)
			}
			s := signals[0]
			if s.Severity != tt.severity || s.Suggest != tt.suggest || !strings.Contains(s.Title, tt.inTitle) {
				t.Errorf("severity %v, suggest %q, title %q; want %v, %q, containing %q", s.Severity, s.Suggest, s.Title, tt.severity, tt.suggest, tt.inTitle)
			}
			if len(s.Evidence) < 3 || s.Detail == "" || (s.SQL == "" && s.Action == "") {
				t.Errorf("the signal does not explain itself: %+v", s)
			}
		})
	}
}

func TestRecommendLive(t *testing.T) {
	snap := liveSnap()
	snap.Activity.CheckpointsRequested = 400
	snap.Activity.WALBytes = 48 * 60 * GB
	snap.Activity.TempFiles, snap.Activity.TempBytes = 4800, 4800*100*MB
	snap.Activity.BlocksRead = 100_000_000
	snap.Activity.ClientBackends = 96
	snap.Activity.OldestXIDAge = 250_000_000
	in := Instance{Memory: 64 * GB, CPUs: 8, Storage: StorageSSD, Profile: ProfileWeb, Version: 16, OS: OSLinux}
	base, err := Recommend(in)
	if err != nil {
		t.Fatal(err)
	}
	cfg, signals, err := RecommendLive(in, snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(signals) != 5 {
		t.Errorf("signals %v", rules(signals))
	}
	reason := func(name string) string {
		for _, s := range cfg.Settings {
			if s.Name == name {
				return s.Reason
			}
		}
		return ""
	}
	for _, c := range []struct{ name, base, live string }{
		{"max_wal_size", base.Get("max_wal_size"), "16GB"},
		{"shared_buffers", base.Get("shared_buffers"), FormatBytes(niceBytes(64 * GB / 3))},
		{"autovacuum_max_workers", base.Get("autovacuum_max_workers"), "6"},
	} {
		if cfg.Get(c.name) != c.live || c.base == c.live || !strings.Contains(reason(c.name), "live evidence") {
			t.Errorf("%s: %s without evidence, %s with it (reason %q); want %s citing the evidence", c.name, c.base, cfg.Get(c.name), reason(c.name), c.live)
		}
	}
	// 96 clients open now: the budget assumes 120 rather than the profile's 200? No: 200 is more,
	// the observed count only ever raises the assumption.
	if cfg.Connections.ClientConnections != 200 {
		t.Errorf("clients %d", cfg.Connections.ClientConnections)
	}
	if cfg.Get("shared_preload_libraries") != "pg_cron,pg_stat_statements" {
		t.Errorf("shared_preload_libraries %q: the server's libraries must be kept", cfg.Get("shared_preload_libraries"))
	}
	if !cfg.Memory.Fits() {
		t.Error("the live adjustments broke the memory budget")
	}
	// A busier server than the profile assumes raises the client count, with a note.
	snap = liveSnap()
	snap.Settings[4].Setting = "1000"
	snap.Activity.ClientBackends = 400
	cfg, _, err = RecommendLive(in, snap)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Connections.ClientConnections != 500 || !notesContain(cfg, "400 client connections were open") {
		t.Errorf("clients %d, notes %q", cfg.Connections.ClientConnections, cfg.Notes)
	}
}

func TestPreloadWith(t *testing.T) {
	for in, want := range map[string]string{"": "pg_stat_statements", "pg_cron": "pg_cron,pg_stat_statements",
		"pg_stat_statements, auto_explain": "pg_stat_statements,auto_explain", `"pg_cron"`: "pg_cron,pg_stat_statements"} {
		if got := preloadWith(in); got != want {
			t.Errorf("preloadWith(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLargeTableSettings(t *testing.T) {
	snap := liveSnap()
	snap.Tables = []dbstate.Table{
		{Schema: "public", Name: "appointments", Kind: "table", RowEstimate: 50_000_000},
		{Schema: "public", Name: "Notifications", Kind: "table", RowEstimate: 200_000_000},
		{Schema: "public", Name: "tuned", Kind: "table", RowEstimate: 90_000_000, Reloptions: []string{"autovacuum_vacuum_scale_factor=0.01"}},
		{Schema: "public", Name: "small", Kind: "table", RowEstimate: 1_000_000},
	}
	in := Instance{Memory: 64 * GB, CPUs: 8, Storage: StorageSSD, Profile: ProfileOLTP, Version: 16, OS: OSLinux}
	cfg, _, err := RecommendLive(in, snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tables) != 2 ||
		cfg.Tables[0].SQL != "ALTER TABLE public.appointments SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);" ||
		cfg.Tables[1].SQL != `ALTER TABLE public."Notifications" SET (autovacuum_vacuum_scale_factor = 0.005, autovacuum_analyze_scale_factor = 0.005);` {
		t.Errorf("table settings %+v", cfg.Tables)
	}
	in.Version = 18
	cfg, _, _ = RecommendLive(in, snap)
	if len(cfg.Tables) != 0 || cfg.Get("autovacuum_vacuum_max_threshold") != "1000000" {
		t.Errorf("18: tables %+v, autovacuum_vacuum_max_threshold %q", cfg.Tables, cfg.Get("autovacuum_vacuum_max_threshold"))
	}
}
