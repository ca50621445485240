package booking

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/query"
	"github.com/bookedbarber/pgtune/workload"
)

// TestRunFillsPgStatStatements is the workload's promise: after a run, pg_stat_statements holds
// every statement of the app's catalogue, normalised, and none of them failed; with BindAll, in
// its bound form, every value a parameter (no quote in any recorded text).
func TestRunFillsPgStatStatements(t *testing.T) {
	for _, bindAll := range []bool{false, true} {
		t.Run(map[bool]string{false: "literals", true: "bind-all"}[bindAll], func(t *testing.T) { testRunFills(t, bindAll) })
	}
}

func testRunFills(t *testing.T, bindAll bool) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		conn := db.Connect(t)
		ctx := t.Context()
		// Reference zero means today: the app's "upcoming" and "today" screens need current data.
		if _, err := Load(ctx, conn, LoadOptions{Options: Options{Scale: 0.05, Seed: 3}}); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
			t.Fatal(err)
		}
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, cfg, RunOptions{Actions: 3000, Clients: 4, Seed: 1, BindAll: bindAll})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors != 0 {
			t.Errorf("%d statement errors, e.g. %v", res.Errors, res.FirstErrors)
		}
		var calls int64
		for _, s := range res.Statements {
			calls += s.Calls
		}
		if calls < int64(res.Actions) {
			t.Errorf("%d actions ran only %d statements", res.Actions, calls)
		}

		rows, err := conn.Query(ctx, `SELECT query, calls FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		if err != nil {
			t.Fatal(err)
		}
		type entry struct {
			Query string
			Calls int64
		}
		entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[entry])
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int64{}
		appStatements := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Query, connect.Marker) {
				continue // the driver's own sampling queries
			}
			st, err := query.Parse(e.Query)
			if err != nil || st.Kind == workload.KindUtility {
				continue
			}
			seen[st.Fingerprint] += e.Calls
			appStatements++
			if bindAll && strings.Contains(e.Query, "'") {
				t.Errorf("bound mode sent a literal: %s", e.Query)
			}
		}
		if appStatements < 30 {
			t.Errorf("pg_stat_statements holds %d app statements, want at least 30", appStatements)
		}
		for _, s := range Statements {
			text := s.SQL
			if bindAll {
				text = Bind(s.SQL).SQL
			}
			fp, err := query.Fingerprint(text)
			if err != nil {
				t.Fatal(err)
			}
			if seen[fp] == 0 {
				t.Errorf("statement %s never reached pg_stat_statements", s.Name)
			}
		}
	})
}

func TestRunWithoutData(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Run(t.Context(), cfg, RunOptions{Actions: 10, Clients: 1})
		if !errors.Is(err, ErrNoData) {
			t.Errorf("run on an empty database: %v, want ErrNoData", err)
		}
	})
}
