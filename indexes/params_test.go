package indexes_test

import (
	"slices"
	"testing"

	"github.com/bookedbarber/pgtune/advisor/model"
	"github.com/bookedbarber/pgtune/advisor/query"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
)

func TestRepresentativeParameters(t *testing.T) {
	_, w, cat := demoWorkload(t)
	model := func(name string) *model.Statement {
		fp, _ := query.Fingerprint(booking.StatementByName(name).SQL)
		for _, ws := range w.Statements {
			if ws.Fingerprint == fp {
				return ws.Model
			}
		}
		t.Fatalf("%s missing", name)
		return nil
	}
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
