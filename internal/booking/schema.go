package booking

import (
	"fmt"
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

// NotificationPartitions is how many hash partitions the partitioned variant gives notifications.
const NotificationPartitions = 4

// partitionNotifications turns the tables' DDL into the variant where notifications is a
// partitioned table (hash on id, so its primary key and every statement stay as they are) with
// NotificationPartitions partitions, notifications_p0 and on: the shape that makes index
// migrations take the ON ONLY / per-partition / ATTACH path.
func partitionNotifications(tables string) string {
	head, rest, ok := strings.Cut(tables, "CREATE TABLE notifications (")
	if !ok {
		panic("booking: schema.sql lost its notifications table")
	}
	body, tail, ok := strings.Cut(rest, "\n);\n")
	if !ok {
		panic("booking: schema.sql's notifications table does not end with ');'")
	}
	var b strings.Builder
	b.WriteString(head + "CREATE TABLE notifications (" + body + "\n) PARTITION BY HASH (id);\n")
	for i := range NotificationPartitions {
		fmt.Fprintf(&b, "CREATE TABLE notifications_p%d PARTITION OF notifications FOR VALUES WITH (MODULUS %d, REMAINDER %d);\n", i, NotificationPartitions, i)
	}
	return b.String() + tail
}

// Tables lists the schema's tables in load order (parents before children).
var Tables = []string{
	"users", "shops", "locations", "barbers", "clients", "services", "barber_services",
	"barber_availability", "time_off", "appointments", "payments", "payouts", "notifications", "reviews",
}
