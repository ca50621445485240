package indexes_test

import (
	"slices"
	"testing"

	"github.com/bookedbarber/pgtune/workload/build"

	"github.com/bookedbarber/pgtune/dbstate"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/query"
	"github.com/bookedbarber/pgtune/workload"
)

func TestRepresentativeParameters(t *testing.T) {
	_, w, cat := demoWorkload(t)
	stmt := func(name string) *workload.Statement { return findModel(t, w, name) }
	// barber_booked_slots: barber_id = $1, start_time >= $2 AND start_time < $3.
	v, ok := Representative(stmt("barber_booked_slots"), cat)
	hist := cat.ColumnStat("public.appointments", "start_time").HistogramBounds
	if !ok || len(v) != 3 || !slices.Contains(cat.ColumnStat("public.appointments", "barber_id").MostCommonVals, v[0]) && v[0] == "" {
		t.Fatalf("%q %v", v, ok)
	}
	if i := slices.Index(hist, v[1]); i < 0 || v[2] != hist[i+1] {
		t.Errorf("range bounds %q, %q are not adjacent histogram bounds", v[1], v[2])
	}
	// my_bookings_page: LIMIT $2 OFFSET $3.
	if v, ok := Representative(stmt("my_bookings_page"), cat); !ok || v[1] != "10" || v[2] != "0" {
		t.Errorf("limit/offset: %q %v", v, ok)
	}
	// An UPDATE's new value is outside the conditions the model sees: it gets no value, so the
	// values fall short of the prepared statement's parameters and WhatIf binds NULL for it.
	if v, _ := Representative(stmt("reschedule_appointment"), cat); len(v) >= 2 {
		t.Errorf("reschedule_appointment: %q", v)
	}
	// pg_stat_statements' $n for SELECT 1 and coalesce(..., 0) are outside the conditions: NULL.
	// A wrapped column's condition (start_time + make_interval(...) > $2) takes the column's values.
	snap, _, _ := demoWorkload(t)
	snap.Statements.Samples = nil
	c := dbstate.NewCatalog(snap)
	wl := build.Workload(snap, c, nil)
	// double_booking_check: barber_id = $1, start_time + ... > $2, start_time < $3, SELECT $4.
	if v, ok := Representative(findModel(t, wl, "double_booking_check"), c); !ok || len(v) < 4 || slices.Contains(v[:3], NullParam) || v[3] != NullParam || v[1] >= v[2] {
		t.Errorf("double_booking_check: %q %v, want the barber, two bounds and NULL", v, ok)
	}
	if v, ok := Representative(findModel(t, wl, "payout_period_total"), c); !ok || v[len(v)-1] != NullParam && !slices.Contains(v, NullParam) {
		t.Errorf("payout_period_total: %q %v, want NULL for coalesce's default", v, ok)
	}
}

// A skewed, low-cardinality equality column bound as a parameter (the bound form of the
// notification poller: status = $1) is priced over each of its common values and an uncommon one,
// not its most common value alone: the poller asks for the rare 'pending' rows.
func TestRepresentativeSetsVaryASkewedColumn(t *testing.T) {
	snap, _, _ := demoWorkload(t)
	// As an ORM's workload looks: no sample holds a literal (pg_stat_statements' texts of the
	// demo are normalised already, and the bound poller's text is the same).
	snap.Statements.Samples = nil
	bound := booking.Bind(booking.StatementByName("notification_poller").SQL).SQL
	cat := dbstate.NewCatalog(snap)
	w := build.Workload(snap, cat, nil)
	fp, _ := query.Fingerprint(bound)
	var st *workload.Statement
	for _, ws := range w.Statements {
		if ws.Fingerprint == fp {
			st = ws.Model
		}
	}
	if st == nil {
		t.Fatal("the bound poller is not in the workload")
	}
	sets := RepresentativeSets(st, cat)
	cs := cat.ColumnStat("public.notifications", "status")
	var statuses []string
	for _, s := range sets {
		if len(s) != 2 || s[1] != "10" {
			t.Fatalf("set %q: want status and LIMIT 10", s)
		}
		statuses = append(statuses, s[0])
	}
	for _, v := range cs.MostCommonVals[:min(len(cs.MostCommonVals), SkewValues)] {
		if !slices.Contains(statuses, v) {
			t.Errorf("status values priced %q, want each common value (%q)", statuses, cs.MostCommonVals)
		}
	}
	if !slices.Contains(statuses, "pending") {
		t.Errorf("status values priced %q: 'pending' (what the poller asks for) is missing", statuses)
	}
	// A column of many distinct values gets its most common value only.
	if sets := RepresentativeSets(findModel(t, w, "payment_by_stripe_id"), cat); len(sets) != 1 {
		t.Errorf("payment_by_stripe_id: %d sets, want 1", len(sets))
	}
	// An IN list of parameters (status IN ($4, $5), bound) takes distinct values, and each
	// common value is asked for in some set.
	asked := map[string]bool{}
	for _, s := range RepresentativeSets(findModel(t, w, "barber_booked_slots"), cat) {
		if len(s) != 5 || s[3] == s[4] {
			t.Errorf("barber_booked_slots set %q: want two different statuses for $4, $5", s)
			continue
		}
		asked[s[3]], asked[s[4]] = true, true
	}
	for _, v := range cat.ColumnStat("public.appointments", "status").MostCommonVals {
		if !asked[v] {
			t.Errorf("barber_booked_slots: status %q never priced", v)
		}
	}
}

func findModel(t *testing.T, w *workload.Workload, name string) *workload.Statement {
	t.Helper()
	fp, _ := query.Fingerprint(booking.StatementByName(name).SQL)
	for _, ws := range w.Statements {
		if ws.Fingerprint == fp {
			return ws.Model
		}
	}
	t.Fatalf("%s missing", name)
	return nil
}
