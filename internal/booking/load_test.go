package booking

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var testReference = time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)

func loadSmall(t *testing.T) (*pgtest.DB, *pgx.Conn, *LoadResult) {
	t.Helper()
	db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
	conn := db.Connect(t)
	res, err := Load(t.Context(), conn, LoadOptions{Options: Options{Scale: 0.05, Seed: 7, Reference: testReference}})
	if err != nil {
		t.Fatal(err)
	}
	return db, conn, res
}

func TestLoadFillsEveryTableConsistently(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		_, conn, res := loadSmall(t)
		ctx := t.Context()
		if len(res.Tables) != len(Tables) {
			t.Fatalf("loaded %d tables, want %d", len(res.Tables), len(Tables))
		}
		for _, tl := range res.Tables {
			var n int64
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{tl.Table}.Sanitize()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != tl.Rows || n == 0 {
				t.Errorf("%s: reported %d rows, table holds %d", tl.Table, tl.Rows, n)
			}
		}
		// Foreign keys were added after the data, so they validated every row; check a few shapes.
		checks := []struct {
			name  string
			query string
			ok    func(float64) bool
		}{
			{"appointments per barber per working day ~6", `
			SELECT count(*)::float8 / count(DISTINCT (barber_id, start_time::date)) FROM appointments`,
				func(v float64) bool { return v > 4.5 && v < 7.5 }},
			{"most past appointments completed", `
			SELECT avg((status = 'completed')::int) FROM appointments WHERE start_time < '2026-06-15'`,
				func(v float64) bool { return v > 0.8 && v < 0.92 }},
			{"a small share of notifications pending", `
			SELECT avg((status = 'pending')::int) FROM notifications`,
				func(v float64) bool { return v > 0.01 && v < 0.08 }},
			{"every completed appointment paid once", `
			SELECT count(*) FILTER (WHERE p.id IS NULL) + count(*) FILTER (WHERE p.id IS NOT NULL AND a.status <> 'completed')
			FROM appointments a FULL JOIN payments p ON p.appointment_id = a.id WHERE a.status = 'completed' OR p.id IS NOT NULL`,
				func(v float64) bool { return v == 0 }},
			{"no double bookings", `
			SELECT count(*) FROM appointments a JOIN appointments b ON a.barber_id = b.barber_id AND a.id < b.id
			WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
			  AND tstzrange(a.start_time, a.start_time + make_interval(mins => a.duration_minutes))
			   && tstzrange(b.start_time, b.start_time + make_interval(mins => b.duration_minutes))`,
				func(v float64) bool { return v == 0 }},
			{"ids follow time (correlation of start_time)", `
			SELECT correlation FROM pg_stats WHERE tablename = 'appointments' AND attname = 'start_time'`,
				func(v float64) bool { return v > 0.9 }},
			{"future bookings exist", `
			SELECT count(*) FROM appointments WHERE start_time >= '2026-06-15' AND status IN ('pending', 'confirmed')`,
				func(v float64) bool { return v > 0 }},
		}
		for _, c := range checks {
			var v float64
			if err := conn.QueryRow(ctx, c.query).Scan(&v); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !c.ok(v) {
				t.Errorf("%s: got %v", c.name, v)
			}
		}
		// Identity sequences were moved past the loaded ids: the app's next insert must not collide.
		if _, err := conn.Exec(ctx, "INSERT INTO reviews (appointment_id, barber_id, client_id, rating) SELECT id, barber_id, client_id, 5 FROM appointments WHERE id NOT IN (SELECT appointment_id FROM reviews) LIMIT 1"); err != nil {
			t.Errorf("insert after load: %v", err)
		}
	})
}

func TestLoadIsDeterministic(t *testing.T) {
	a, _ := NewPlan(Options{Scale: 0.05, Seed: 7, Reference: testReference})
	b, _ := NewPlan(Options{Scale: 0.05, Seed: 7, Reference: testReference})
	c, _ := NewPlan(Options{Scale: 0.05, Seed: 8, Reference: testReference})
	digest := func(p *Plan) map[string]string {
		out := map[string]string{}
		for _, src := range sources {
			h := uint64(0)
			for row := range src.rows(p) {
				for _, v := range row {
					h = mix(h ^ uint64(len(fmtValue(v))) ^ hashString(fmtValue(v)))
				}
			}
			out[src.table] = fmt.Sprintf("%x", h)
		}
		return out
	}
	da, db, dc := digest(a), digest(b), digest(c)
	same := 0
	for table := range da {
		if da[table] != db[table] {
			t.Errorf("%s differs between two runs with the same options", table)
		}
		if da[table] == dc[table] {
			same++
		}
	}
	if same == len(da) {
		t.Error("a different seed produced identical data")
	}
}

func TestLoadRefusesExistingTables(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, conn, _ := loadSmall(t)
		_, err := Load(t.Context(), conn, LoadOptions{Options: Options{Scale: 0.02, Reference: testReference}})
		if !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("second load: %v, want ErrNotEmpty", err)
		}
		res, err := Load(t.Context(), conn, LoadOptions{Options: Options{Scale: 0.02, Reference: testReference}, Replace: true})
		if err != nil {
			t.Fatalf("load with Replace on %s: %v", db.Name, err)
		}
		if res.Rows == 0 {
			t.Error("replace loaded nothing")
		}
	})
}

func TestPlanRejectsBadScale(t *testing.T) {
	for _, s := range []float64{0, -1, 1e9} {
		if _, err := NewPlan(Options{Scale: s}); err == nil {
			t.Errorf("scale %v accepted", s)
		}
	}
}
