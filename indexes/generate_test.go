package indexes_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/workload/build"

	pgtune "github.com/bookedbarber/pgtune"
	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/snapshot"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/query"
	"github.com/bookedbarber/pgtune/workload"
)

// demoWorkload builds the bundled demo snapshot's workload and catalog.
func demoWorkload(t *testing.T) (*dbstate.Snapshot, *workload.Workload, *dbstate.Catalog) {
	t.Helper()
	snap, err := snapshot.Read(bytes.NewReader(pgtune.DemoSnapshot))
	if err != nil {
		t.Fatal(err)
	}
	cat := dbstate.NewCatalog(snap)
	return snap, build.Workload(snap, cat, nil), cat
}

func demoCandidates(t *testing.T, mutate func(*dbstate.Snapshot)) ([]*Candidate, *workload.Workload) {
	t.Helper()
	snap, err := snapshot.Read(bytes.NewReader(pgtune.DemoSnapshot))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(snap)
	}
	rep, err := advisor.Advise(t.Context(), snap, advisor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Generate(rep.Workload, rep.Catalog), rep.Workload
}

// The index a DBA would add for each hot booking statement is among the candidates, derived from
// that statement; nothing an existing index provides is.
func TestGenerateOnTheBookingWorkload(t *testing.T) {
	cands, _ := demoCandidates(t, func(s *dbstate.Snapshot) { s.AvailableExtensions = append(s.AvailableExtensions, "pg_trgm") })
	byDef := map[string]*Candidate{}
	for _, c := range cands {
		byDef[strings.TrimPrefix(c.PlainDefinition(), "CREATE INDEX "+c.Name+" ")] = c
		if len(c.Name) > 63 {
			t.Errorf("name over 63 bytes: %s", c.Name)
		}
	}
	want := map[string]string{
		"notification_poller":  `ON public.notifications (scheduled_for) WHERE status = 'pending'`,
		"barber_booked_slots":  `ON public.appointments (barber_id, start_time) WHERE status IN ('pending', 'confirmed')`,
		"double_booking_check": `ON public.appointments (barber_id, start_time) WHERE status IN ('pending', 'confirmed')`,
		"payment_by_stripe_id": `ON public.payments (stripe_payment_intent_id)`,
		"my_bookings_page":     `ON public.appointments (booked_by_user_id, start_time)`,
		"client_upcoming":      `ON public.appointments (client_id, start_time) WHERE status IN ('pending', 'confirmed')`,
		"client_history":       `ON public.appointments (client_id, start_time DESC)`,
		"client_search_email":  `ON public.clients (shop_id, (lower(email)))`,
		"client_search_phone":  `ON public.clients USING gin (phone gin_trgm_ops)`,
		"reminder_window":      `ON public.notifications (appointment_id, kind)`,
		"payout_period_total":  `ON public.payments (barber_id, status, paid_at)`,
		"location_day_status":  `ON public.appointments (location_id, start_time)`,
		"reviews_inbox":        `ON public.reviews (barber_id, created_at DESC)`,
	}
	for name, def := range want {
		fp, err := query.Fingerprint(booking.StatementByName(name).SQL)
		if err != nil {
			t.Fatal(err)
		}
		c := byDef[def]
		if c == nil {
			t.Errorf("%s: no candidate %s", name, def)
			continue
		}
		if !slices.Contains(c.Serves, fp) {
			t.Errorf("%s: candidate %s does not list the statement", name, def)
		}
		if len(c.Why) == 0 {
			t.Errorf("%s: candidate %s does not say why", name, def)
		}
	}
	for def := range byDef {
		switch {
		case def == "ON public.appointments (barber_id)":
			t.Error("proposed appointments (barber_id), which appointments_barber_id_idx already is")
		case strings.Contains(def, "(id"):
			t.Errorf("proposed an index led by a primary key column: %s", def)
		case strings.Contains(def, "public.services") || strings.Contains(def, "public.shops"):
			t.Errorf("proposed an index on a tiny table: %s", def)
		}
	}
}

func TestTrigramOnlyWhenAvailable(t *testing.T) {
	cands, _ := demoCandidates(t, func(s *dbstate.Snapshot) {
		s.AvailableExtensions = slices.DeleteFunc(s.AvailableExtensions, func(e string) bool { return e == "pg_trgm" })
	})
	for _, c := range cands {
		if c.Method == "gin" {
			t.Errorf("a trigram candidate without pg_trgm: %s", c.Definition())
		}
	}
}

func TestNames(t *testing.T) {
	c := &Candidate{Table: "public.appointments", Method: "btree", Keys: []dbstate.IndexKey{{Column: "barber_id"}, {Column: "start_time", Desc: true, NullsFirst: true}},
		Where: "status IN ('pending', 'confirmed')"}
	if got := NameFor(c.Table, c); got != "appointments_barber_id_start_time_desc_pending_confirmed_idx" {
		t.Errorf("name = %s", got)
	}
	long := &Candidate{Table: "public.a_table_with_a_rather_long_name", Method: "btree",
		Keys: []dbstate.IndexKey{{Column: "first_long_column_name"}, {Column: "second_long_column_name"}}}
	n1 := NameFor(long.Table, long)
	long.Keys[1].Column = "second_long_column_other"
	n2 := NameFor(long.Table, long)
	if len(n1) > 63 || len(n2) > 63 || n1 == n2 || !strings.HasSuffix(n1, "_idx") || NameFor(long.Table, long) != n2 {
		t.Errorf("long names %q, %q", n1, n2)
	}
	expr := &Candidate{Table: "public.clients", Method: "gin", Keys: []dbstate.IndexKey{{Column: "phone", Opclass: "gin_trgm_ops"}}}
	if got := NameFor(expr.Table, expr); got != "clients_phone_trgm_idx" {
		t.Errorf("trigram name = %s", got)
	}
	c.Name = NameFor(c.Table, c)
	if got := c.Definition(); got != `CREATE INDEX CONCURRENTLY IF NOT EXISTS appointments_barber_id_start_time_desc_pending_confirmed_idx ON public.appointments (barber_id, start_time DESC) WHERE status IN ('pending', 'confirmed')` {
		t.Errorf("definition = %s", got)
	}
}

func TestImmutableExpressionsOnly(t *testing.T) {
	tbl := &dbstate.Table{Columns: []dbstate.Column{{Name: "ts", Type: "timestamp with time zone"}, {Name: "day", Type: "timestamp without time zone"}, {Name: "email", Type: "text"}}}
	cases := []struct {
		col, kind, name, want string
	}{
		{"email", "function", "lower", "lower(email)"},
		{"ts", "function", "date", ""}, // depends on TimeZone: not immutable
		{"day", "function", "date", "date(day)"},
		{"ts", "cast", "date", ""},
		{"day", "cast", "date", "(day)::date"},
		{"email", "function", "now", ""},
	}
	for _, c := range cases {
		p := workload.Predicate{Column: workload.ColumnRef{Column: c.col}, Wrapper: &workload.Wrapper{Kind: workload.WrapperKind(c.kind), Name: c.name}}
		if got := ImmutableExpr(p, tbl); got != c.want {
			t.Errorf("%s(%s): %q, want %q", c.name, c.col, got, c.want)
		}
	}
}

// Narrowing: when the leading equality column is distinct in every row (n_distinct = -1), the
// candidate is that column alone; the other equality columns would add size, not selectivity.
func TestGenerateNarrowsOnADistinctColumn(t *testing.T) {
	const q = "SELECT id, amount_cents FROM payments WHERE stripe_payment_intent_id = $1 AND barber_id = $2 AND currency = $3"
	cands, _ := demoCandidates(t, func(s *dbstate.Snapshot) {
		s.Indexes = slices.DeleteFunc(s.Indexes, func(ix dbstate.Index) bool {
			return ix.Table == "payments" && len(ix.Keys) > 0 && ix.Keys[0].Column == "stripe_payment_intent_id"
		})
		s.Statements.Rows = append(s.Statements.Rows, dbstate.StatementRow{QueryID: 4242, Toplevel: true, Query: q,
			Calls: 5000, TotalExecMs: 50000, MeanExecMs: 10, Rows: 5000})
	})
	found := false
	for _, c := range cands {
		if c.Table != "public.payments" || len(c.Keys) == 0 || c.Keys[0].Column != "stripe_payment_intent_id" {
			continue
		}
		found = true
		if len(c.Keys) != 1 || !strings.Contains(strings.Join(c.Why, "; "), "distinct in every row") {
			t.Errorf("candidate %s: keys %v, why %q; want stripe_payment_intent_id alone, said why", c.Name, c.Keys, c.Why)
		}
	}
	if !found {
		t.Fatal("no candidate leads with stripe_payment_intent_id")
	}
}
