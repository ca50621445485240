package indexes_test

import (
	"slices"
	"testing"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/advisor/model"
	"github.com/bookedbarber/pgtune/advisor/query"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
)

func TestRepresentativeParameters(t *testing.T) {
	_, w, cat := demoWorkload(t)
	model := func(name string) *model.Statement { return findModel(t, w, name) }
	// barber_booked_slots: barber_id = $1, start_time >= $2 AND start_time < $3.
	v, ok := Representative(model("barber_booked_slots"), cat)
	hist := cat.ColumnStat("public.appointments", "start_time").HistogramBounds
	if !ok || len(v) != 3 || !slices.Contains(cat.ColumnStat("public.appointments", "barber_id").MostCommonVals, v[0]) && v[0] == "" {
		t.Fatalf("%q %v", v, ok)
	}
	if i := slices.Index(hist, v[1]); i < 0 || v[2] != hist[i+1] {
		t.Errorf("range bounds %q, %q are not adjacent histogram bounds", v[1], v[2])
	}
	// my_bookings_page: LIMIT $2 OFFSET $3.
	if v, ok := Representative(model("my_bookings_page"), cat); !ok || v[1] != "10" || v[2] != "0" {
		t.Errorf("limit/offset: %q %v", v, ok)
	}
	// An UPDATE's new value is outside the conditions the model sees: it gets no value, so the
	// values fall short of the prepared statement's parameters and WhatIf plans generically only.
	if v, _ := Representative(model("reschedule_appointment"), cat); len(v) >= 2 {
		t.Errorf("reschedule_appointment: %q", v)
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
	cat := model.NewCatalog(snap)
	w := advisor.BuildWorkload(snap, cat)
	fp, _ := query.Fingerprint(bound)
	var st *model.Statement
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
	if sets := RepresentativeSets(findModel(t, w, "barber_booked_slots"), cat); len(sets) != 1 {
		t.Errorf("barber_booked_slots: %d sets, want 1", len(sets))
	}
}

func findModel(t *testing.T, w *model.Workload, name string) *model.Statement {
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
