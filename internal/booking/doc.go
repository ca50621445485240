// Package booking is pgtune's stand-in for a real barbershop booking application: the untuned
// schema (testdata/booking/schema.sql), a deterministic data generator with a scale factor, the
// app's query mix (parameterised statements with call frequencies) and a driver that runs the mix
// against a database so pg_stat_statements fills with realistic normalised statements.
//
// Scale factor 1 is about 100,000 appointments (60 barbers, each with about 6 appointments on a
// working day, over 365 days of history and 42 days of future bookings) and 20,000 clients.
// Everything scales with it; fractional factors make small databases for tests.
package booking
