package migrations

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/query"
)

// builtIndex is an index an up migration creates, named as the parser reads the statement: the
// index's name as PostgreSQL stores it (unquoted, or folded to lower case), and its table as the
// statement writes it (qualified or not), ready for to_regclass.
type builtIndex struct {
	table string
	name  string
}

// builtIndexes lists the named indexes an up migration creates. A CREATE INDEX without a name is
// left out: the server chose the name, and pgtune never drops an index on a guess. A file that
// does not parse builds nothing pgtune could clean up (the run fails on it anyway).
func builtIndexes(sql string) []builtIndex {
	stmts, err := query.ParseMigration(sql)
	if err != nil {
		return nil
	}
	var out []builtIndex
	for _, st := range stmts {
		if st.Kind != "create_index" || st.Index == nil || st.Unnamed {
			continue
		}
		table := quote.Qualified(st.Index.Schema, st.Index.Table)
		if st.Unqualified {
			table = quote.Ident(st.Index.Table)
		}
		out = append(out, builtIndex{table: table, name: st.Index.Name})
	}
	return out
}

// existingIndexQuery finds the index a statement builds: on the table the statement names (as
// the session's search_path resolves it), with the name it gives. The index's schema is its
// table's.
const existingIndexQuery = connect.Marker + `SELECT n.nspname, i.relname, NOT x.indisvalid, i.relkind = 'I'
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
WHERE x.indrelid = pg_catalog.to_regclass($1) AND i.relname = $2`

// foundIndex is a built index as the server has it.
type foundIndex struct {
	schema, name string
	invalid      bool
	// partitioned: an index on a partitioned table. Invalid until every partition's index is
	// attached, which is a step of its migrations, not a failed build: never dropped.
	partitioned bool
}

func (f foundIndex) key() string { return f.schema + "." + f.name }

func findIndex(ctx context.Context, conn *pgx.Conn, b builtIndex) (*foundIndex, error) {
	var f foundIndex
	err := conn.QueryRow(ctx, existingIndexQuery, b.table, b.name).Scan(&f.schema, &f.name, &f.invalid, &f.partitioned)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for index %s on %s: %w", b.name, b.table, err)
	}
	return &f, nil
}

// invalidLeftovers are the INVALID indexes (the leftovers of a failed build) a migration would
// build; partitioned parents' indexes are not leftovers.
func invalidLeftovers(ctx context.Context, conn *pgx.Conn, mig *Migration) ([]foundIndex, error) {
	var out []foundIndex
	for _, b := range builtIndexes(mig.Up) {
		f, err := findIndex(ctx, conn, b)
		if err != nil {
			return nil, err
		}
		if f != nil && f.invalid && !f.partitioned {
			out = append(out, *f)
		}
	}
	return out, nil
}

// dropInvalid drops INVALID indexes a migration would build, concurrently, so CREATE INDEX ... IF
// NOT EXISTS does not skip over them.
func (r *runner) dropInvalid(ctx context.Context, mig *Migration) ([]string, error) {
	leftovers, err := invalidLeftovers(ctx, r.ctrl, mig)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, ix := range leftovers {
		name := quote.Qualified(ix.schema, ix.name)
		if _, err := r.ctrl.Exec(ctx, connect.Marker+"SET lock_timeout = "+strconv.FormatInt(r.o.LockTimeout.Milliseconds(), 10)); err != nil {
			return dropped, err
		}
		// Whatever blocked the build (an old transaction) blocks the drop too: keep trying
		// for a while, each try bounded by lock_timeout so the application never queues.
		deadline := time.Now().Add(r.o.CleanupWait)
		for {
			_, err := r.ctrl.Exec(ctx, connect.Marker+"DROP INDEX CONCURRENTLY IF EXISTS "+name)
			if err == nil {
				break
			}
			if !isLockTimeout(err) || !time.Now().Before(deadline) {
				return dropped, &LeftoverError{Index: ix.key(), Err: err}
			}
			r.log.Info("the invalid leftover index is still in use; retrying", "index", ix.key())
			select {
			case <-ctx.Done():
				return dropped, ctx.Err()
			case <-time.After(time.Second):
			}
		}
		r.log.Info("dropped an invalid leftover index", "index", ix.key())
		dropped = append(dropped, ix.key())
	}
	return dropped, nil
}

// LeftoverError is an invalid index that could not be dropped yet.
type LeftoverError struct {
	Index string
	Err   error
}

func (e *LeftoverError) Error() string {
	return fmt.Sprintf("could not drop the invalid leftover %s yet (%v)", e.Index, e.Err)
}

func (e *LeftoverError) Unwrap() error { return e.Err }
