package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// BenchmarkAdviseLiveSF1 is a full live `pgtune advise` (connect, collect, model, analyse, the
// index engine with HypoPG, render) on the booking demo at scale 1 after 5,000 actions of its
// workload; "no-indexes" skips the engine. The setup (load and run) is not timed. Target: under
// 5 s.
//
//	CI=true go test -run '^$' -bench AdviseLive -benchtime 5x ./internal/cli/
func BenchmarkAdviseLiveSF1(b *testing.B) {
	db := pgtest.New(b, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
	conn := db.Connect(b)
	if _, err := booking.Load(b.Context(), conn, booking.LoadOptions{Options: booking.Options{Scale: 1, Seed: 1}}); err != nil {
		b.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(db.DSN)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := booking.Run(b.Context(), cfg, booking.RunOptions{Actions: 5000, Clients: 4, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
	}{{"table", nil}, {"json", []string{"--format", "json"}}, {"no-indexes", []string{"--no-indexes"}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				args := append([]string{"advise", "--dsn", db.DSN}, c.args...)
				if code := Run(b.Context(), args, strings.NewReader(""), io.Discard, io.Discard); code != ExitOK {
					b.Fatalf("advise: exit %d", code)
				}
			}
		})
	}
}
