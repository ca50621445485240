package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// BenchmarkAdviseLiveSF1 is a full live `pgtune advise` (connect, collect, model, analyse,
// render) on the booking demo at scale 1 after 5,000 actions of its workload. The setup (load and
// run) is not timed. Target: under 5 s.
//
//	CI=true go test -run '^$' -bench AdviseLive -benchtime 5x ./internal/cli/
func BenchmarkAdviseLiveSF1(b *testing.B) {
	db := pgtest.New(b, pgtest.WithExtensions("pg_stat_statements"))
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
	for _, format := range []string{"table", "json"} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				if code := Run(b.Context(), []string{"advise", "--dsn", db.DSN, "--format", format}, strings.NewReader(""), io.Discard, io.Discard); code != ExitOK {
					b.Fatalf("advise: exit %d", code)
				}
			}
		})
	}
}
