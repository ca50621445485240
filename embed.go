// Package pgtune holds the files the pgtune binary carries with it from the repository's testdata:
// the bundled booking demo, so `pgtune demo` works from any directory on a machine with nothing
// else installed. The code lives in the sub-packages; see docs/architecture.md.
package pgtune

import _ "embed"

// BookingSchema is testdata/booking/schema.sql: the demo booking platform's untuned schema.
//
//go:embed testdata/booking/schema.sql
var BookingSchema string

// DemoSnapshot is testdata/booking/demo_snapshot.json.gz: a snapshot of the booking demo at
// scale 1 after a run of its workload, which `pgtune advise --demo` analyses. Regenerate it with
// `go test ./internal/cli -run TestDemoSnapshot -regenerate-demo` (see docs/BENCHMARKS.md).
//
//go:embed testdata/booking/demo_snapshot.json.gz
var DemoSnapshot []byte
