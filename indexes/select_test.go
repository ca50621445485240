package indexes_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/query"
)

// The engine, on the booking workload at scale 0.3 with its literal constants sampled, chooses
// indexes for the hot statements, proves each with the planner, cuts the workload's weighted
// cost several times over, and proposes nothing an existing index already is.
func TestSelectOnTheBookingWorkload(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		conn := db.Connect(t)
		ctx := t.Context()
		if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: 0.3, Seed: 1}}); err != nil {
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
		done := make(chan []string)
		stop := make(chan struct{})
		go func() {
			texts, _ := collect.SampleUntil(ctx, sampler, stop)
			done <- texts
		}()
		_, err = booking.Run(ctx, cfg, booking.RunOptions{Actions: 3000, Clients: 3, Seed: 1})
		close(stop)
		samples := <-done
		if err != nil {
			t.Fatal(err)
		}
		snap, err := collect.Collect(ctx, conn, collect.Options{Samples: samples})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := advisor.Advise(t.Context(), snap, advisor.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cands := Generate(rep.Workload, rep.Catalog)
		w, err := NewWhatIf(ctx, db.Connect(t), snap.Server.VersionNum)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Select(ctx, rep.Workload, rep.Catalog, cands, w, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d candidates, %d EXPLAINs, weighted cost %.0f -> %.0f", len(cands), w.Explains, res.BaseCost, res.FinalCost)
		if res.FinalCost*5 > res.BaseCost {
			t.Errorf("weighted cost only went from %.0f to %.0f", res.BaseCost, res.FinalCost)
		}
		if w.Explains > 5000 {
			t.Errorf("%d EXPLAINs: the cache is not working", w.Explains)
		}
		serving := map[string][]string{} // statement name -> proposals serving it
		for _, p := range res.Proposals {
			if p.SizeBytes <= 0 || p.Benefit <= 0 || len(p.Effects) == 0 {
				t.Errorf("%s: size %v, benefit %v, effects %v", p.Candidate.Name, p.SizeBytes, p.Benefit, p.Effects)
			}
			for _, ix := range rep.Catalog.Indexes(p.Candidate.Table) {
				if strings.HasSuffix(ix.Definition, strings.TrimPrefix(p.Candidate.PlainDefinition(), "CREATE INDEX "+p.Candidate.Name)) {
					t.Errorf("%s is an existing index (%s)", p.Candidate.Name, ix.Name)
				}
			}
			for _, e := range p.Effects {
				if e.After >= e.Before {
					t.Errorf("%s: effect %+v", p.Candidate.Name, e)
				}
				for _, s := range booking.Statements {
					if fp, _ := query.Fingerprint(s.SQL); fp == e.Fingerprint {
						serving[s.Name] = append(serving[s.Name], p.Candidate.PlainDefinition())
					}
				}
			}
		}
		for _, name := range []string{"notification_poller", "payment_by_stripe_id", "client_upcoming", "my_bookings_page", "reminder_window"} {
			if len(serving[name]) == 0 {
				t.Errorf("no proposal serves %s", name)
			}
		}
		if got := serving["payment_by_stripe_id"]; !slices.ContainsFunc(got, func(d string) bool { return strings.Contains(d, "payments (stripe_payment_intent_id)") }) {
			t.Errorf("payment_by_stripe_id served by %q", got)
		}
		if got := serving["notification_poller"]; !slices.ContainsFunc(got, func(d string) bool { return strings.Contains(d, "scheduled_for") }) {
			t.Errorf("notification_poller served by %q", got)
		}
		for _, p := range res.Proposals {
			t.Logf("%5.1f%% %7.0f kB %s (replaces %v, breaks HOT of %v)", 100*p.Share, p.SizeBytes/1024, p.Candidate.PlainDefinition(), p.Replaces, p.BreaksHOT)
		}

		// On three planner sessions the first pass is planned in parallel: the same choice, and
		// the helper sessions are gone afterwards.
		sessions := func() (n int) {
			conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").Scan(&n) //nolint:errcheck // 0 fails below
			return n
		}
		before := sessions()
		wp, err := NewWhatIf(ctx, db.Connect(t), snap.Server.VersionNum)
		if err != nil {
			t.Fatal(err)
		}
		dials := 0
		wp.Parallel(3, func(ctx context.Context) (*pgx.Conn, error) { dials++; return pgx.Connect(ctx, db.DSN) }, nil)
		par, err := Select(ctx, rep.Workload, rep.Catalog, cands, wp, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if dials != 2 || !slices.Equal(proposalDefs(par), proposalDefs(res)) || par.FinalCost != res.FinalCost {
			t.Errorf("on 3 sessions (%d dialled): %q (cost %.0f), on one %q (%.0f)", dials, proposalDefs(par), par.FinalCost, proposalDefs(res), res.FinalCost)
		}
		// A closed session's backend ends a moment after its client said goodbye.
		after := sessions()
		for deadline := time.Now().Add(10 * time.Second); after > before+1 && time.Now().Before(deadline); after = sessions() {
			time.Sleep(20 * time.Millisecond)
		}
		if after != before+1 || before == 0 {
			t.Errorf("%d sessions before the parallel selection, %d after: want the helpers closed (one more: its own)", before, after)
		}

		// Without HypoPG, the statistics estimator serves the same statements, and mostly agrees.
		est := NewEstimator(rep.Workload, rep.Catalog)
		byEstimate, err := Select(ctx, rep.Workload, rep.Catalog, cands, est, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Agreement on what to index (table and leading key): the exact shapes vary with the sampled
		// workload from run to run (a column more, a partial predicate), the leading keys much less.
		lead := func(c *Candidate) string { return c.Table + "|" + c.Keys[0].String() }
		planner := map[string]bool{}
		for _, p := range res.Proposals {
			planner[lead(p.Candidate)] = true
		}
		agree := 0
		for _, p := range byEstimate.Proposals {
			if planner[lead(p.Candidate)] {
				agree++
			}
			t.Logf("estimated %5.1f%% %s", 100*p.Share, p.Candidate.PlainDefinition())
		}
		t.Logf("estimator: %d proposals, %d lead like the planner's; weighted cost %.0f -> %.0f (%d estimates)",
			len(byEstimate.Proposals), agree, byEstimate.BaseCost, byEstimate.FinalCost, est.Estimates)
		if len(byEstimate.Proposals) == 0 || agree*2 < len(byEstimate.Proposals) || byEstimate.FinalCost*3 > byEstimate.BaseCost {
			t.Errorf("the estimator disagrees with the planner: %d of %d proposals lead alike", agree, len(byEstimate.Proposals))
		}
		for _, want := range []string{"public.notifications|scheduled_for", "public.payments|stripe_payment_intent_id"} {
			found := false
			for _, p := range byEstimate.Proposals {
				found = found || lead(p.Candidate) == want
			}
			if !found {
				t.Errorf("the estimator proposes nothing led by %s", want)
			}
		}

		// With its own proposals planned (migrations written, not yet applied), the same workload
		// needs nothing more: generating twice adds nothing.
		var planned []*Candidate
		for _, p := range res.Proposals {
			planned = append(planned, p.Candidate)
		}
		again, err := Select(ctx, rep.Workload, rep.Catalog, cands, w, Options{Planned: planned})
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Proposals) != 0 {
			for _, p := range again.Proposals {
				t.Errorf("second selection proposed %s (%.2f%%)", p.Candidate.PlainDefinition(), 100*p.Share)
			}
		}
	})
}

func TestTextBudget(t *testing.T) {
	st := dbstate.Statements{Max: 1000, Entries: 800, OwnRole: 40}
	for _, c := range []struct {
		st        dbstate.Statements
		track     string
		texts     int
		wantLimit int
		wantOK    bool
	}{
		{st, "all", 20, 0, true},
		{st, "all", 200, 30, false}, // (900 - 760 - 80) / 2
		{st, "top", 5000, 0, true},
		{dbstate.Statements{Max: 1000, Entries: 990, Untracked: true}, "all", 5000, 0, true},
		{dbstate.Statements{Max: 1000, Entries: 990}, "all", 5000, 1, false},
	} {
		limit, ok := TextBudget(c.st, c.track, c.texts)
		if limit != c.wantLimit || ok != c.wantOK {
			t.Errorf("TextBudget(%+v, %s, %d) = %d, %v; want %d, %v", c.st, c.track, c.texts, limit, ok, c.wantLimit, c.wantOK)
		}
	}
}

func proposalDefs(r *Result) []string {
	var out []string
	for _, p := range r.Proposals {
		out = append(out, p.Candidate.PlainDefinition())
	}
	return out
}
