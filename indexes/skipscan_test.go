package indexes_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// B-tree skip scan (18): an index on (a, b) with a handful of a values serves b = $1. Checked on
// every major against the planner itself: on 18 EXPLAIN uses (a, b) for b = 42 once (b) is gone,
// before 18 it cannot; the estimator (offline advice) and the audit know it on 18 only, and the
// drop of (b) is left to the planner (HypoPG 1.4+ prices it).
func TestSkipScan(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		conn := db.Connect(t)
		ctx := t.Context()
		for _, sql := range []string{
			"CREATE TABLE t (a int, b int, pad text)",
			"INSERT INTO t SELECT g % 4, g % 25000, repeat('x', 50) FROM generate_series(1, 100000) g",
			"CREATE INDEX t_ab ON t (a, b)",
			"CREATE INDEX t_b ON t (b)",
			"ANALYZE t",
			"SELECT pg_stat_statements_reset()",
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		for i := range 50 {
			if _, err := conn.Exec(ctx, "SELECT pad FROM t WHERE b = $1", i); err != nil {
				t.Fatal(err)
			}
		}
		major := pgtest.MajorOf(t)

		// The planner, with t_b out of the way (dropped in a transaction rolled back).
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "DROP INDEX t_b"); err != nil {
			t.Fatal(err)
		}
		cost := func(sql string) float64 {
			t.Helper()
			var raw []byte
			if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			var doc []struct {
				Plan struct {
					TotalCost float64 `json:"Total Cost"`
				} `json:"Plan"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil || len(doc) == 0 {
				t.Fatalf("EXPLAIN: %s, %v", raw, err)
			}
			return doc[0].Plan.TotalCost
		}
		withAB := cost("SELECT pad FROM t WHERE b = 42")
		if _, err := tx.Exec(ctx, "SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off"); err != nil {
			t.Fatal(err)
		}
		seq := cost("SELECT pad FROM t WHERE b = 42")
		_ = tx.Rollback(ctx)
		// Before 18 the planner can only read all of t_ab for b = 42 (or the table); from 18 it
		// descends once per value of a.
		t.Logf("PostgreSQL %d, b = 42 without t_b: cost %.1f, sequential scan %.1f", major, withAB, seq)
		if skips := withAB < seq/10; skips != (major >= 18) {
			t.Fatalf("PostgreSQL %d: b = 42 through t_ab costs %.1f against a sequential scan's %.1f (a skip scan, 18's, is far cheaper)", major, withAB, seq)
		}

		snap, err := collect.Collect(ctx, conn, collect.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := advisor.Advise(ctx, snap, advisor.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// The estimator, with t_b hidden, agrees with the planner.
		est := NewEstimator(rep.Workload, rep.Catalog)
		var fp string
		for _, ws := range rep.Workload.Statements {
			if strings.HasPrefix(ws.Query, "SELECT pad FROM t WHERE b = $1") {
				fp = ws.Fingerprint
			}
		}
		if fp == "" {
			t.Fatal("the statement is not in the workload")
		}
		p, err := est.Cost(ctx, nil, []string{"public.t_b"}, fp, "", nil, []string{"public.t"})
		if err != nil {
			t.Fatal(err)
		}
		if estAB := strings.Contains(strings.Join(p.Indexes, ","), "t_ab"); estAB != (major >= 18) {
			t.Errorf("PostgreSQL %d: the estimator uses %v for b = $1 without t_b (cost %.1f)", major, p.Indexes, p.Cost)
		}
		// The audit says so on 18 only, and leaves the drop to the planner.
		var finding bool
		for _, f := range rep.Findings {
			if f.Rule == "audit.index.skip_scan" {
				finding = true
				if f.Index.Name != "t_b" || !strings.Contains(f.Title, "t_ab") || !strings.Contains(f.Action, "--include-drops") {
					t.Errorf("skip-scan finding: %+v", f)
				}
			}
			if f.Rule == "audit.index.prefix" && f.Index != nil && f.Index.Name == "t_b" {
				t.Errorf("t_b reported as a prefix of t_ab: %+v", f)
			}
		}
		if finding != (major >= 18) {
			t.Errorf("PostgreSQL %d: audit.index.skip_scan reported %v", major, finding)
		}
		if major >= 18 {
			w, err := NewWhatIf(ctx, db.Connect(t), snap.Server.VersionNum)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close(ctx)
			var tb *dbstate.Index
			for _, ix := range rep.Catalog.Indexes("public.t") {
				if ix.Name == "t_b" {
					tb = ix
				}
			}
			kept, refused, err := ProveDrops(ctx, rep.Workload, rep.Catalog, w, nil, []Drop{{Index: tb}})
			if err != nil || len(kept)+len(refused) != 1 {
				t.Fatalf("pricing the drop of t_b: kept %v, refused %v, %v", kept, refused, err)
			}
			for _, r := range refused {
				t.Logf("the planner keeps t_b: %s", r.Reason)
			}
			for _, k := range kept {
				t.Logf("the planner drops t_b: %s", k.Reason)
			}
		}
	})
}
