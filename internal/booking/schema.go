package booking

import (
	"strings"

	"github.com/bookedbarber/pgtune"
)

// constraintsMarker separates the schema's tables from the constraints and indexes that a loader
// adds after the data (as pg_dump orders them).
const constraintsMarker = "-- pgtune:constraints"

// Schema returns the booking schema's DDL in two parts: the tables, and the constraints and
// indexes to add once the tables hold their data.
func Schema() (tables, constraints string) {
	tables, rest, ok := strings.Cut(pgtune.BookingSchema, constraintsMarker)
	if !ok {
		panic("booking: schema.sql lost its '" + constraintsMarker + "' line")
	}
	_, constraints, _ = strings.Cut(rest, "\n") // the rest of the marker's comment line
	return tables, constraints
}

// Tables lists the schema's tables in load order (parents before children).
var Tables = []string{
	"users", "shops", "locations", "barbers", "clients", "services", "barber_services",
	"barber_availability", "time_off", "appointments", "payments", "payouts", "notifications", "reviews",
}
