package indexes

import (
	"slices"
	"testing"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// Describe reads every text's parameter types in one go, as the text-at-a-time path does (the
// same names, an enum of the schema's own included), and a text the server cannot parse costs
// only its own types: it is planned the slow way later and fails with its own error.
func TestDescribeReadsEveryTextsTypesAtOnce(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("hypopg"))
		conn := db.Connect(t)
		ctx := t.Context()
		for _, sql := range []string{
			`CREATE SCHEMA shop`,
			`CREATE TYPE shop.state AS ENUM ('pending', 'done')`,
			`CREATE TABLE shop.visits (id bigint PRIMARY KEY, barber_id int NOT NULL, start_time timestamptz NOT NULL, state shop.state NOT NULL, tags text[])`,
			`INSERT INTO shop.visits SELECT g, g % 60, now() + g * interval '5 minutes', 'done', '{a}' FROM generate_series(1, 1000) g`,
			`ANALYZE shop.visits`,
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		var version int
		if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
			t.Fatal(err)
		}
		texts := []string{
			"SELECT id FROM shop.visits WHERE barber_id = $1 AND start_time >= $2 AND state = $3 AND tags && $4 LIMIT $5;",
			"SELECT id FROM shop.visits WHERE nope = $1", // the server cannot parse it
			"SELECT count(*) FROM shop.visits",
			"SELECT id FROM shop.visits WHERE id = ANY($1) AND barber_id = $2",
		}
		w, err := NewWhatIf(ctx, conn, version)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		if err := w.Describe(ctx, texts); err != nil {
			t.Fatal(err)
		}
		// What the text-at-a-time path reads (pg_prepared_statements' regtype[]) is the yardstick.
		ref, err := NewWhatIf(ctx, db.Connect(t), version)
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close(ctx)
		for i, text := range texts {
			got, ok := w.types[trimText(text)]
			want, err := ref.paramTypesOf(ctx, trimText(text))
			switch {
			case i == 1:
				if ok || err == nil {
					t.Errorf("the unparsable text has types %v (the reference: %v, %v)", got, want, err)
				}
			case !ok || err != nil || !slices.Equal(got, want):
				t.Errorf("%s: types %v (%v), want %v (%v)", text, got, ok, want, err)
			}
		}
		if got := w.types[trimText(texts[0])]; !slices.Contains(got, "shop.state") || !slices.Contains(got, "text[]") {
			t.Errorf("types %v: want the enum, schema-qualified, and the array", got)
		}
		// Nothing is left prepared, and the session plans on: the unparsable text fails with
		// its own error, the others are planned in one batch each.
		var left int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgtune%'").Scan(&left); err != nil || left != 0 {
			t.Errorf("%d statements left prepared (%v)", left, err)
		}
		tables := []string{"shop.visits"}
		if _, err := w.Cost(ctx, nil, nil, "bad", texts[1], nil, tables); err == nil {
			t.Error("the unparsable text was planned")
		}
		p, err := w.Cost(ctx, nil, nil, "good", texts[0], [][]string{{"7", "2026-06-01", "done", "{a}", "10"}}, tables)
		if err != nil || len(p.Variants) != 2 || p.Cost <= 0 {
			t.Errorf("planned after Describe: %+v %v, want a generic and a custom plan", p, err)
		}
		if w.stepwise[trimText(texts[0])] {
			t.Error("a described text was planned step by step")
		}
	})
}
