package booking

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
)

// ErrNotEmpty means the target database already holds booking tables.
var ErrNotEmpty = errors.New("database already holds booking tables")

// LoadOptions control Load.
type LoadOptions struct {
	Options
	// Replace drops existing booking tables first instead of refusing to load.
	Replace bool
	// PartitionNotifications makes notifications a hash-partitioned table (see
	// NotificationPartitions), as a platform that partitions its outbox has it.
	PartitionNotifications bool
	// Progress, if set, is told after every table (and every 50,000 rows of a big one).
	Progress func(table string, rows int64, done bool)
}

// TableLoad is what Load did to one table.
type TableLoad struct {
	Table    string        `json:"table"`
	Rows     int64         `json:"rows"`
	Duration time.Duration `json:"duration_ns"`
}

// LoadResult summarises a load.
type LoadResult struct {
	Scale     float64       `json:"scale"`
	Seed      uint64        `json:"seed"`
	Reference time.Time     `json:"reference"`
	Tables    []TableLoad   `json:"tables"`
	Rows      int64         `json:"rows"`
	Duration  time.Duration `json:"duration_ns"`
}

// Load creates the booking schema in the connection's database and fills it with generated data:
// tables, then COPY of every table, then constraints and indexes, identity sequences moved past
// the loaded ids, and VACUUM ANALYZE so the planner and the visibility map look like a database
// that has been running for a while.
func Load(ctx context.Context, conn *pgx.Conn, o LoadOptions) (*LoadResult, error) {
	plan, err := NewPlan(o.Options)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	if err := prepare(ctx, conn, o.Replace); err != nil {
		return nil, err
	}
	tables, constraints := Schema()
	if o.PartitionNotifications {
		tables = partitionNotifications(tables)
	}
	if _, err := conn.Exec(ctx, connect.Marker+tables); err != nil {
		return nil, fmt.Errorf("create booking tables: %w", err)
	}
	res := &LoadResult{Scale: plan.Scale, Seed: plan.Seed, Reference: plan.Reference}
	for _, src := range sources {
		t0 := time.Now()
		n, err := copyTable(ctx, conn, src.table, src.columns, src.rows(plan), o.Progress)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", src.table, err)
		}
		res.Tables = append(res.Tables, TableLoad{Table: src.table, Rows: n, Duration: time.Since(t0)})
		res.Rows += n
		if o.Progress != nil {
			o.Progress(src.table, n, true)
		}
	}
	if _, err := conn.Exec(ctx, connect.Marker+constraints); err != nil {
		return nil, fmt.Errorf("add booking constraints: %w", err)
	}
	for _, t := range Tables {
		if t == "barber_services" {
			continue // composite key, no identity
		}
		q := fmt.Sprintf(connect.Marker+"SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), greatest((SELECT max(id) FROM %[1]s), 1))", t)
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("advance the id sequence of %s: %w", t, err)
		}
	}
	for _, t := range Tables {
		if _, err := conn.Exec(ctx, connect.Marker+"VACUUM (ANALYZE) "+quote.Ident(t)); err != nil {
			return nil, fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	res.Duration = time.Since(began)
	return res, nil
}

// prepare refuses to load over existing booking tables unless replace is set, in which case it
// drops them (only them).
func prepare(ctx context.Context, conn *pgx.Conn, replace bool) error {
	rows, err := conn.Query(ctx, connect.Marker+
		"SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1) ORDER BY 1", Tables)
	if err != nil {
		return fmt.Errorf("look for existing booking tables: %w", err)
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("look for existing booking tables: %w", err)
	}
	if len(existing) == 0 {
		return nil
	}
	if !replace {
		return fmt.Errorf("%w (%s); load into an empty database, or pass --replace to drop them first", ErrNotEmpty, strings.Join(existing, ", "))
	}
	ids := make([]string, len(existing))
	for i, t := range existing {
		ids[i] = quote.Ident(t)
	}
	if _, err := conn.Exec(ctx, connect.Marker+"DROP TABLE "+strings.Join(ids, ", ")+" CASCADE"); err != nil {
		return fmt.Errorf("drop existing booking tables: %w", err)
	}
	return nil
}

func copyTable(ctx context.Context, conn *pgx.Conn, table string, columns []string, rows iter.Seq[[]any], progress func(string, int64, bool)) (int64, error) {
	next, stop := iter.Pull(rows)
	defer stop()
	var n int64
	src := pgx.CopyFromFunc(func() ([]any, error) {
		row, ok := next()
		if !ok {
			return nil, nil
		}
		n++
		if progress != nil && n%50000 == 0 {
			progress(table, n, false)
		}
		return row, nil
	})
	return conn.CopyFrom(ctx, pgx.Identifier{table}, columns, src)
}
