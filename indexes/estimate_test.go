package indexes_test

import (
	"testing"

	"github.com/bookedbarber/pgtune/dbstate"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/query"
	"github.com/bookedbarber/pgtune/workload"
)

func TestEstimatorFollowsThePlannersLogic(t *testing.T) {
	_, w, cat := demoWorkload(t)
	est := NewEstimator(w, cat)
	ctx := t.Context()
	cost := func(name string, config []*Candidate, hide []string) float64 {
		t.Helper()
		fp, err := query.Fingerprint(booking.StatementByName(name).SQL)
		if err != nil {
			t.Fatal(err)
		}
		var ws *workload.Entry
		for _, s := range w.Statements {
			if s.Fingerprint == fp {
				ws = s
			}
		}
		if ws == nil {
			t.Fatalf("%s is not in the demo workload", name)
		}
		p, err := est.Cost(ctx, config, hide, fp+"/0", "", nil, ws.Model.TableKeys())
		if err != nil {
			t.Fatal(err)
		}
		return p.Cost
	}
	idx := func(table string, where string, cols ...string) *Candidate {
		c := &Candidate{Table: table, Method: "btree", Where: where}
		for _, col := range cols {
			c.Keys = append(c.Keys, dbstate.IndexKey{Column: col})
		}
		c.Name = NameFor(table, c)
		return c
	}
	stripe := idx("public.payments", "", "stripe_payment_intent_id")
	if before, after := cost("payment_by_stripe_id", nil, nil), cost("payment_by_stripe_id", []*Candidate{stripe}, nil); after*20 > before {
		t.Errorf("an index on the looked-up column: cost %.1f -> %.1f", before, after)
	}
	// A partial index serves a statement that states its constant, and no other.
	pending := idx("public.notifications", "status = 'pending'", "scheduled_for")
	if before, after := cost("notification_poller", nil, nil), cost("notification_poller", []*Candidate{pending}, nil); after*20 > before {
		t.Errorf("the poller with its partial index: cost %.1f -> %.1f", before, after)
	}
	failed := idx("public.notifications", "status = 'failed'", "scheduled_for")
	if before, after := cost("notification_poller", nil, nil), cost("notification_poller", []*Candidate{failed}, nil); after != before {
		t.Errorf("a partial index on another constant changed the poller's cost: %.1f -> %.1f", before, after)
	}
	// Hiding the primary key makes a lookup by id read the whole table.
	if with, without := cost("appointment_by_id", nil, nil), cost("appointment_by_id", nil, []string{"public.appointments_pkey"}); without < 20*with {
		t.Errorf("hiding appointments_pkey: cost %.1f -> %.1f", with, without)
	}
	// A trigram GIN index serves a leading-wildcard LIKE no B-tree can.
	trgm := &Candidate{Table: "public.clients", Method: "gin", Keys: []dbstate.IndexKey{{Column: "phone", Opclass: "gin_trgm_ops"}}, Estimated: true, Needs: "pg_trgm"}
	trgm.Name = NameFor(trgm.Table, trgm)
	if before, after := cost("client_search_phone", nil, nil), cost("client_search_phone", []*Candidate{trgm}, nil); after*2 > before {
		t.Errorf("a leading-wildcard search with a trigram index: cost %.1f -> %.1f", before, after)
	}
	if s, _ := est.Size(ctx, stripe); s < 8192*10 {
		t.Errorf("estimated size of %s: %.0f", stripe.Name, s)
	}
}
