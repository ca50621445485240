package indexes

import (
	"errors"
	"slices"
	"testing"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestWhatIfPricesHypotheticalIndexes(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("hypopg"))
		conn := db.Connect(t)
		ctx := t.Context()
		for _, sql := range []string{
			`CREATE TABLE visits (id bigint PRIMARY KEY, barber_id int NOT NULL, start_time timestamptz NOT NULL, status text NOT NULL)`,
			`INSERT INTO visits SELECT g, g % 60, now() + g * interval '5 minutes', CASE WHEN g % 20 = 0 THEN 'pending' ELSE 'done' END FROM generate_series(1, 100000) g`,
			`CREATE INDEX visits_status ON visits (status)`,
			`ANALYZE visits`,
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		var version int
		if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
			t.Fatal(err)
		}
		// JIT on, as servers have it by default: the what-if session turns it off for itself
		// (loading the JIT provider cost the first EXPLAIN of every session 45-300 ms).
		if _, err := conn.Exec(ctx, "SET jit = on"); err != nil {
			t.Fatal(err)
		}
		w, err := NewWhatIf(ctx, conn, version)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		var jit string
		if err := conn.QueryRow(ctx, "SHOW jit").Scan(&jit); err != nil || jit != "off" {
			t.Errorf("jit in the what-if session: %q, %v; want off", jit, err)
		}

		const q = "SELECT id FROM visits WHERE barber_id = $1 AND start_time >= $2 AND start_time < $3"
		tables := []string{"public.visits"}
		base, err := w.Cost(ctx, nil, nil, "fp1", q, nil, tables)
		if err != nil {
			t.Fatal(err)
		}
		c := &Candidate{Table: "public.visits", Method: "btree", Keys: []dbstate.IndexKey{{Column: "barber_id"}, {Column: "start_time"}}}
		c.Name = nameFor(c.Table, c)
		cfg := []*Candidate{c}
		with, err := w.Cost(ctx, cfg, nil, "fp1", q, nil, tables)
		if err != nil {
			t.Fatal(err)
		}
		if with.Cost >= base.Cost/10 || !slices.Contains(with.Indexes, c.Signature()) {
			t.Errorf("base %+v, with the index %+v: want a much cheaper plan using %s", base, with, c.Signature())
		}
		if size, err := w.Size(ctx, c); err != nil || size < 8192 {
			t.Errorf("estimated size %v, %v", size, err)
		}
		explains := w.Explains
		if again, _ := w.Cost(ctx, cfg, nil, "fp1", q, nil, tables); again.Cost != with.Cost || w.Explains != explains {
			t.Errorf("a repeated plan was not cached (%d explains, then %d)", explains, w.Explains)
		}
		// The cache key holds the configuration of the statement's own tables only.
		other := &Candidate{Table: "public.other", Method: "btree", Keys: []dbstate.IndexKey{{Column: "x"}}}
		if got := configKey(append(cfg, other), nil, tables); got != c.Signature() {
			t.Errorf("config key %q", got)
		}
		if back, _ := w.Cost(ctx, nil, nil, "fp1", q, nil, tables); back.Cost != base.Cost || w.Explains != explains {
			t.Errorf("without the index: %+v (explains %d), want the cached base %+v", back, w.Explains, base)
		}
		// With representative values the planner also makes a custom plan (it sees a one-hour range,
		// not a third of the table) and the cost is the mean of both; values of the wrong type only
		// lose the custom plan.
		withParams, err := w.Cost(ctx, cfg, nil, "fp3", q, [][]string{{"7", "2026-06-01 10:00", "2026-06-01 11:00"}}, tables)
		if err != nil || withParams.Cost <= 0 || !slices.Contains(withParams.Indexes, c.Signature()) {
			t.Errorf("with representative values: %+v %v", withParams, err)
		}
		if bad, err := w.Cost(ctx, cfg, nil, "fp4", q, [][]string{{"seven", "x", "y"}}, tables); err != nil || bad.Cost != with.Cost {
			t.Errorf("wrong-typed values: %+v %v, want the generic plan %+v", bad, err, with)
		}
		// A text planned before goes in one pipelined batch; the first time (and after a batch
		// failed) statement by statement. Both price alike: a fresh session plans what the batch
		// planned above, step by step.
		if len(w.stepwise) != 1 || !w.stepwise[q] {
			t.Errorf("texts planned step by step after a failed batch: %v, want the one with wrong-typed values", w.stepwise)
		}
		w2, err := NewWhatIf(ctx, db.Connect(t), version)
		if err != nil {
			t.Fatal(err)
		}
		defer w2.Close(ctx)
		sets := [][]string{{"7", "2026-06-01 10:00", "2026-06-01 11:00"}, {"8", "2026-06-02 10:00", "2026-06-02 12:00"}}
		const q7 = "SELECT id FROM visits WHERE barber_id = $1 AND status = 'done' AND start_time >= $2 AND start_time < $3"
		_, _ = w.Cost(ctx, nil, nil, "fp7", q7, nil, tables) // its types are known from here on
		batched, err1 := w.Cost(ctx, cfg, nil, "fp7", q7, sets, tables)
		stepped, err2 := w2.Cost(ctx, cfg, nil, "fp7", q7, sets, tables)
		if err1 != nil || err2 != nil || batched.Cost != stepped.Cost || len(batched.Variants) != 3 || !slices.Equal(batched.Variants, stepped.Variants) {
			t.Errorf("batched %+v (%v), step by step %+v (%v): want the same plans", batched, err1, stepped, err2)
		}
		// A statement on a table dropped since the snapshot cannot be planned: an error for that
		// statement (Select leaves it out), not a broken session.
		if _, err := w.Cost(ctx, nil, nil, "fp5", "SELECT * FROM dropped_since WHERE a = $1", nil, []string{"public.dropped_since"}); err == nil {
			t.Error("a statement on a missing table was planned")
		}
		if _, err := w.Cost(ctx, nil, nil, "fp6", "SELECT id FROM visits WHERE id = $1", nil, tables); err != nil {
			t.Errorf("the session broke after a failed plan: %v", err)
		}
		// A write statement is planned, never run; the session is read-only anyway.
		if _, err := w.Cost(ctx, nil, nil, "fp2", "UPDATE visits SET status = 'x' WHERE barber_id = $1", nil, tables); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM visits WHERE status = 'x'").Scan(&n); err != nil || n != 0 {
			t.Errorf("the UPDATE ran: %d rows, %v", n, err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE nope (a int)"); err == nil {
			t.Error("the what-if session can write")
		}
		// Pricing a drop needs HypoPG 1.4.
		err = w.Configure(ctx, nil, []string{"public.visits_status"})
		if w.CanHide && err != nil {
			t.Errorf("hide: %v", err)
		}
		if !w.CanHide && !errors.Is(err, ErrNoHide) {
			t.Errorf("hide with HypoPG < 1.4: %v", err)
		}
	})
}

func TestWhatIfWithoutHypoPG(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		if _, err := NewWhatIf(t.Context(), db.Connect(t), 150000); !errors.Is(err, ErrNoHypoPG) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestParsePlan(t *testing.T) {
	p, err := parsePlan([]byte(`[{"Plan": {"Node Type": "Nested Loop", "Total Cost": 42.5, "Plans": [
		{"Node Type": "Index Scan", "Index Name": "b_idx", "Total Cost": 8},
		{"Node Type": "Bitmap Heap Scan", "Plans": [{"Node Type": "Bitmap Index Scan", "Index Name": "a_idx"}]}]}}]`))
	if err != nil || p.Cost != 42.5 || !slices.Equal(p.Indexes, []string{"a_idx", "b_idx"}) {
		t.Errorf("%+v %v", p, err)
	}
	if _, err := parsePlan([]byte(`{}`)); err == nil {
		t.Error("garbage accepted")
	}
}
