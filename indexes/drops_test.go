package indexes_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// Drops are priced with the planner where HypoPG hides indexes (1.4+, on the 17 and 18 images):
// a duplicate goes, but never both twins; the one index a hot statement needs stays, with the
// statement and its costs named, unless a proposal that replaces it is in place: priced as one
// move, it then goes. The range query's `interval $2` (pg_stat_statements' text) is planned too. Older HypoPG (13, 15 here) says it cannot.
func TestProveDrops(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		conn := db.Connect(t)
		ctx := t.Context()
		for _, sql := range []string{
			"CREATE TABLE visits (id int PRIMARY KEY, barber_id int, client_id int, at timestamptz, note text)",
			"INSERT INTO visits SELECT g, g % 500, g % 3000, now() - g * interval '1 minute', 'n' FROM generate_series(1, 60000) g",
			"CREATE INDEX visits_barber_a ON visits (barber_id)",
			"CREATE INDEX visits_barber_b ON visits (barber_id)", // its twin
			"CREATE INDEX visits_client ON visits (client_id)",   // the only index for a hot lookup
			"ANALYZE visits",
			"SELECT pg_stat_statements_reset()",
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		for i := range 50 {
			for _, q := range []string{
				"SELECT id FROM visits WHERE barber_id = $1",
				"SELECT id, at FROM visits WHERE client_id = $1",
				"SELECT id FROM visits WHERE at > now() - interval '1 hour' AND barber_id = $1",
			} {
				var args []any
				if strings.Contains(q, "$1") {
					args = append(args, i)
				}
				if _, err := conn.Exec(ctx, q, args...); err != nil {
					t.Fatal(err)
				}
			}
		}
		snap, err := collect.Collect(ctx, conn, collect.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := advisor.Advise(ctx, snap, advisor.Options{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewWhatIf(ctx, db.Connect(t), snap.Server.VersionNum)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		index := func(name string) *dbstate.Index {
			for i := range snap.Indexes {
				if snap.Indexes[i].Name == name {
					return &snap.Indexes[i]
				}
			}
			t.Fatalf("no index %s", name)
			return nil
		}
		// A proposal that replaces visits_client: (client_id, at), which leads with its key.
		repl := &Candidate{Table: "public.visits", Method: "btree", Keys: []dbstate.IndexKey{{Column: "client_id"}, {Column: "at"}}}
		repl.Name = "visits_client_id_at_idx"
		drops := []Drop{{Index: index("visits_barber_b")}, {Index: index("visits_barber_a")}, {Index: index("visits_client")}}

		kept, refused, err := ProveDrops(ctx, rep.Workload, rep.Catalog, w, nil, drops)
		if !w.CanHide {
			if !errors.Is(err, ErrNoHide) {
				t.Fatalf("HypoPG without hypopg_hide_index: %v, want ErrNoHide", err)
			}
			if pgtest.MajorOf(t) >= 17 {
				t.Fatalf("PostgreSQL %d's image has HypoPG 1.4+, yet it cannot hide", pgtest.MajorOf(t))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var keptNames, refusedNames []string
		for _, d := range kept {
			keptNames = append(keptNames, d.Index.Name)
			if !d.Proven || !strings.Contains(d.Reason, "Proven with the planner") {
				t.Errorf("%s kept without proof: %+v", d.Index.Name, d)
			}
		}
		reasons := map[string]string{}
		for _, r := range refused {
			refusedNames = append(refusedNames, r.Drop.Index.Name)
			reasons[r.Drop.Index.Name] = r.Reason
		}
		want := "[visits_barber_b] refused [visits_barber_a visits_client]"
		if got := fmt.Sprintf("%v refused %v", keptNames, refusedNames); got != want {
			t.Errorf("kept %s, want %s; reasons %v", got, want, reasons)
		}
		if r := reasons["visits_client"]; !strings.Contains(r, "client_id = $1") || !strings.Contains(r, "->") {
			t.Errorf("the refusal does not name the statement and its costs: %q", r)
		}
		// The replacement is priced as one move: with (client_id, at) in place visits_client goes
		// (without it, it stayed: above).
		kept, refused, err = ProveDrops(ctx, rep.Workload, rep.Catalog, w, []*Candidate{repl}, []Drop{{Index: index("visits_client")}})
		if err != nil || len(kept) != 1 {
			t.Errorf("visits_client with its replacement in place: kept %v, refused %v, %v", kept, refused, err)
		}
	})
}
