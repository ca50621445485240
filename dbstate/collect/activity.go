package collect

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/connect"
)

// activityQuery reads the statement texts other sessions of this database run (or ran last), as
// they sent them. pg_stat_statements keeps only normalised texts, where every constant is a $n;
// these samples keep the constants the application writes into its SQL, which partial indexes
// and several hints depend on.
const activityQuery = connect.Marker + `SELECT query FROM pg_catalog.pg_stat_activity
WHERE datname = pg_catalog.current_database() AND pid <> pg_catalog.pg_backend_pid()
  AND backend_type = 'client backend' AND query <> '' AND query <> '<insufficient privilege>'
  AND query NOT LIKE '/* pgtune */%'`

// maxSamples bounds the distinct texts kept (a workload with more distinct texts than this sends
// its constants inline, and samples cannot say which are fixed).
const maxSamples = 5000

func mergeSorted(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxSamples {
		out = out[:maxSamples]
	}
	return out
}

// sampleActivity looks at pg_stat_activity once, or every 100 ms for d, and returns the distinct
// statement texts other sessions of the database ran, sorted.
func sampleActivity(ctx context.Context, conn *pgx.Conn, d, timeout time.Duration) ([]string, error) {
	seen := map[string]bool{}
	deadline := time.Now().Add(d)
	for {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		rows, err := conn.Query(qctx, activityQuery)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("read pg_stat_activity: %w%s", err, hint(err))
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		cancel()
		if err != nil {
			return nil, fmt.Errorf("read pg_stat_activity: %w", err)
		}
		for _, t := range texts {
			if len(seen) < maxSamples {
				seen[t] = true
			}
		}
		if !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}

// SampleUntil samples pg_stat_activity every 100 ms until done is closed (or ctx ends), for a
// caller that runs the application's workload meanwhile, and returns the distinct texts seen.
func SampleUntil(ctx context.Context, conn *pgx.Conn, done <-chan struct{}) ([]string, error) {
	var all []string
	for {
		texts, err := sampleActivity(ctx, conn, 0, 30*time.Second)
		if err != nil {
			return nil, err
		}
		all = mergeSorted(all, texts)
		select {
		case <-done:
			return all, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
