package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

var regenerateMigrations = flag.Bool("regenerate-migrations", false, "rebuild migrations/booking from a fresh scale-1 run (takes about two minutes)")

var bookingMigrations = filepath.Join("..", "..", "migrations", "booking")

// TestBookingMigrations checks the index migrations pgtune generated for the booking workload
// (migrations/booking): they pass the linter against the schema, apply to a fresh booking
// database, re-apply as a no-op and roll back. With -regenerate-migrations it first rebuilds
// them from a scale-1 run of the workload on the test server, the way 'pgtune indexes generate'
// does, with the application's constants sampled over the whole run.
func TestBookingMigrations(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		if *regenerateMigrations {
			regenerateBookingMigrations(t)
		}
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		conn := db.Connect(t)
		if _, err := booking.Load(t.Context(), conn, booking.LoadOptions{Options: booking.Options{Scale: 0.05, Seed: 1}}); err != nil {
			t.Fatal(err)
		}
		if r := run(t, "migrate", "lint", "--dsn", db.DSN, bookingMigrations); r.code != ExitOK || !strings.Contains(r.stdout, "0 errors, 0 warnings") {
			t.Fatalf("lint: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		entries, err := os.ReadDir(bookingMigrations)
		if err != nil || len(entries) < 8 {
			t.Fatalf("migrations/booking holds %d files (%v)", len(entries), err)
		}
		r := run(t, "migrate", "up", "--dsn", db.DSN, "--dir", bookingMigrations, "--format", "json")
		var up struct {
			Result migrateResult `json:"result"`
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &up) != nil || len(up.Result.Result.Applied) != len(entries)/2 {
			t.Fatalf("migrate up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var invalid int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_index WHERE NOT indisvalid").Scan(&invalid); err != nil || invalid != 0 {
			t.Errorf("%d invalid indexes (%v)", invalid, err)
		}
		if r := run(t, "migrate", "up", "--dsn", db.DSN, "--dir", bookingMigrations); r.code != ExitOK || !strings.Contains(r.stdout, "Nothing to do") {
			t.Errorf("re-apply: exit %d\n%s", r.code, r.stdout)
		}
		if r := run(t, "migrate", "down", "--all", "--dsn", db.DSN, "--dir", bookingMigrations); r.code != ExitOK {
			t.Errorf("roll back: exit %d\n%s", r.code, r.stderr)
		}
	})
}

func regenerateBookingMigrations(t *testing.T) {
	db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
	conn := db.Connect(t)
	ctx := t.Context()
	if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: demoScale, Seed: 1}}); err != nil {
		t.Fatal(err)
	}
	exec1(t, conn, "SELECT pg_stat_statements_reset()")
	cfg, err := pgx.ParseConfig(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	sampled := make(chan []string, 1)
	sampler := db.Connect(t)
	go func() {
		texts, _ := collect.SampleUntil(ctx, sampler, stop)
		sampled <- texts
	}()
	_, err = booking.Run(ctx, cfg, booking.RunOptions{Actions: demoActions, Clients: demoClients, Seed: 1})
	close(stop)
	samples := <-sampled
	if err != nil {
		t.Fatal(err)
	}
	res, cands, w := runEngine(t, db, conn, samples)
	if err := os.RemoveAll(bookingMigrations); err != nil {
		t.Fatal(err)
	}
	files, err := indexes.Write(bookingMigrations, indexes.Migrations(res.Proposals, nil, nil, 0, map[string]bool{}, time.Now().UTC()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d files: %d candidates, %d EXPLAINs, weighted cost %.0f -> %.0f", len(files), len(cands), w.Explains, res.BaseCost, res.FinalCost)
}

// runEngine runs the index engine on a live test database as 'pgtune indexes generate' does:
// collect (with the samples taken while the workload ran), build the workload, generate the
// candidates, select with the planner through HypoPG.
func runEngine(tb testing.TB, db *pgtest.DB, conn *pgx.Conn, samples []string) (*indexes.Result, []*indexes.Candidate, *indexes.WhatIf) {
	tb.Helper()
	ctx := tb.Context()
	snap, err := collect.Collect(ctx, conn, collect.Options{Samples: samples, PgtuneVersion: Version()})
	if err != nil {
		tb.Fatal(err)
	}
	rep, err := advisor.Advise(ctx, snap, advisor.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	cands := indexes.Generate(rep.Workload, rep.Catalog)
	w, err := indexes.NewWhatIf(ctx, db.Connect(tb), snap.Server.VersionNum)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := indexes.Select(ctx, rep.Workload, rep.Catalog, cands, w, indexes.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return res, cands, w
}
