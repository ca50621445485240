package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	pgtune "github.com/bookedbarber/pgtune"
	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	"github.com/bookedbarber/pgtune/dbstate/snapshot"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/query"
)

var regenerateDemo = flag.Bool("regenerate-demo", false, "rebuild testdata/booking/demo_snapshot.json.gz from a fresh scale-1 run (takes about a minute)")

// Demo snapshot recipe: scale 1 (about 100,000 appointments), then 20,000 actions of the app's
// mix on 4 connections while pg_stat_activity is sampled for the app's literal constants.
const (
	demoScale   = 1
	demoActions = 20000
	demoClients = 4
)

// TestDemoSnapshot checks the snapshot `pgtune advise --demo` analyses: it holds every statement
// of the booking workload, modelled, with the app's literal constants recovered from samples,
// and the advice on it matches the golden report. With -regenerate-demo it first rebuilds the
// snapshot from a fresh run on the test server.
func TestDemoSnapshot(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		if *regenerateDemo {
			regenerateDemoSnapshot(t)
			return
		}
		snap, err := snapshot.Read(bytes.NewReader(pgtune.DemoSnapshot))
		if err != nil {
			t.Fatalf("embedded demo snapshot: %v", err)
		}
		rep, err := advisor.Advise(t.Context(), snap, advisor.Options{})
		if err != nil {
			t.Fatal(err)
		}
		byFP := map[string]string{}
		for _, ws := range rep.Workload.Statements {
			if ws.Model != nil {
				byFP[ws.Fingerprint] = ws.ModelSource
			}
		}
		samples := 0
		for _, s := range booking.Statements {
			fp, err := query.Fingerprint(s.SQL)
			if err != nil {
				t.Fatal(err)
			}
			src, ok := byFP[fp]
			if !ok {
				t.Errorf("demo snapshot lacks statement %s (regenerate it: go test ./internal/cli -run TestDemoSnapshot -regenerate-demo)", s.Name)
			}
			if src == "sample" {
				samples++
			}
		}
		if samples < len(booking.Statements)/2 {
			t.Errorf("only %d of %d demo statements have a sampled text with literal constants", samples, len(booking.Statements))
		}

		// The markdown report is the case testdata/cli/advise_demo_markdown (TestCLICases).
		r := run(t, "advise", "--demo", "--format", "json")
		var doc struct {
			Result advisor.Report `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Result.Findings) == 0 {
			t.Fatalf("advise --demo --format json: %v (%d findings)", err, len(doc.Result.Findings))
		}
	})
}

func regenerateDemoSnapshot(t *testing.T) {
	db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
	conn := db.Connect(t)
	ctx := t.Context()
	began := time.Now()
	if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: demoScale, Seed: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	sampler := db.Connect(t)
	type sampled struct {
		texts []string
		err   error
	}
	done := make(chan sampled, 1)
	stop := make(chan struct{})
	go func() {
		// Sample for the whole run, so rare statements are seen too.
		texts, err := collect.SampleUntil(ctx, sampler, stop)
		done <- sampled{texts, err}
	}()
	res, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: demoActions, Clients: demoClients, Seed: 1})
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("demo run: %d errors, e.g. %v", res.Errors, res.FirstErrors)
	}
	s := <-done
	if s.err != nil {
		t.Fatal(s.err)
	}
	snap, err := collect.Collect(ctx, conn, collect.Options{Samples: s.texts, PgtuneVersion: Version()})
	if err != nil {
		t.Fatal(err)
	}
	// The scratch database's generated name stands in for the demo's.
	snap.Server.Database = "booking"
	for i := range snap.Gaps {
		snap.Gaps[i].Reason = strings.ReplaceAll(snap.Gaps[i].Reason, db.Name, "booking")
	}
	path := filepath.Join("..", "..", "testdata", "booking", "demo_snapshot.json.gz")
	if err := snapshot.WriteFile(path, snap); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d statements, %d samples, run %v, total %v", path, len(snap.Statements.Rows), len(snap.Statements.Samples), res.Duration, time.Since(began))
}
