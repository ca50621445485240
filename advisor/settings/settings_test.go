package settings

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/pgconf"
)

// defaults is a PostgreSQL 15 server left at its defaults, with a busy web app's 400 connections
// allowed and work_mem raised by hand: the classic over-commit.
func defaults() *dbstate.Snapshot {
	return &dbstate.Snapshot{
		Server: dbstate.Server{VersionNum: 150018},
		Settings: []dbstate.Setting{
			{Name: "max_connections", Setting: "400"},
			{Name: "shared_buffers", Setting: "262144", Unit: "8kB"}, // 2GB
			{Name: "work_mem", Setting: "65536", Unit: "kB"},         // 64MB
			{Name: "hash_mem_multiplier", Setting: "2"},
			{Name: "maintenance_work_mem", Setting: "65536", Unit: "kB"},
			{Name: "autovacuum_work_mem", Setting: "-1", Unit: "kB"},
			{Name: "max_parallel_workers", Setting: "8"},
			{Name: "autovacuum_max_workers", Setting: "3"},
			{Name: "random_page_cost", Setting: "4"},
			{Name: "shared_preload_libraries", Setting: "pg_stat_statements"},
		},
		Activity: &dbstate.ServerActivity{CollectedAt: time.Now(), CheckpointsTimed: 10, BlocksHit: 10, ClientBackends: 5, OldestXIDAge: 1000},
	}
}

func instance() *pgconf.Instance {
	return &pgconf.Instance{Memory: 16 * pgconf.GB, CPUs: 4, Storage: pgconf.StorageSSD, Profile: pgconf.ProfileWeb, OS: pgconf.OSLinux}
}

func byRule(fs []finding.Finding) map[string]finding.Finding {
	m := map[string]finding.Finding{}
	for _, f := range fs {
		m[f.Rule] = f
	}
	return m
}

func TestWithoutInstanceOnlyEvidence(t *testing.T) {
	snap := defaults()
	snap.Activity.ClientBackends = 390 // near the 400
	fs := Analyze(snap, nil)
	if len(fs) != 1 || fs[0].Rule != "settings.connections_near_limit" {
		t.Errorf("findings %v: want only the evidence", byRule(fs))
	}
}

func TestOvercommit(t *testing.T) {
	f, ok := byRule(Analyze(defaults(), instance()))["settings.memory_overcommit"]
	// 408 backends × (4MB + 64MB × 3) ≈ 78 GB on a 16 GB machine.
	if !ok || f.Severity != finding.SeverityHigh || !strings.Contains(f.Title, "on a 16 GB machine") {
		t.Fatalf("overcommit finding %+v", f)
	}
	if v, _ := f.Evidence.Get("max_connections"); v != int64(400) {
		t.Errorf("evidence %v", f.Evidence)
	}
	snap := defaults()
	snap.Settings[2].Setting = "4096" // 4MB work_mem: fits
	snap.Settings[0].Setting = "100"
	if _, ok := byRule(Analyze(snap, instance()))["settings.memory_overcommit"]; ok {
		t.Error("100 connections × 4MB on 16 GB reported as over-committed")
	}
}

func TestDifferencesGrouped(t *testing.T) {
	fs := byRule(Analyze(defaults(), instance()))
	mem, ok := fs["settings.differs.memory"]
	if !ok || mem.Severity != finding.SeverityMedium {
		t.Fatalf("memory differences: %+v", mem)
	}
	if v, _ := mem.Evidence.Get("shared_buffers"); !strings.HasPrefix(v.(string), "2GB -> 4GB: a quarter of the RAM") {
		t.Errorf("shared_buffers evidence %q", v)
	}
	if !strings.Contains(mem.SQL, "ALTER SYSTEM SET shared_buffers = '4GB';") || !strings.HasSuffix(mem.SQL, "SELECT pg_reload_conf();") {
		t.Errorf("SQL %q", mem.SQL)
	}
	if !strings.Contains(mem.Action, "restart applies shared_buffers") {
		t.Errorf("action %q", mem.Action)
	}
	if p, ok := fs["settings.differs.planner"]; !ok || p.Severity != finding.SeverityLow {
		t.Errorf("planner differences (random_page_cost 4 -> 1.1): %+v", p)
	}
	// The preload list already holds pg_stat_statements: no observability finding for it.
	if o, ok := fs["settings.differs.observability"]; ok && strings.Contains(o.Title, "shared_preload_libraries") {
		t.Errorf("shared_preload_libraries reported although unchanged: %s", o.Title)
	}
}

func TestUnsizable(t *testing.T) {
	in := instance()
	in.Memory, in.AppInstances, in.AppPoolSize = pgconf.GB, 50, 40
	if f, ok := byRule(Analyze(defaults(), in))["settings.unsizable"]; !ok || !strings.Contains(f.Detail, "--pooler") {
		t.Errorf("an impossible instance: %+v", f)
	}
}
