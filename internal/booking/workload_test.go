package booking

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/query"
	"github.com/bookedbarber/pgtune/workload"
)

func TestStatementCatalogue(t *testing.T) {
	if len(Statements) < 30 {
		t.Fatalf("the app's mix has %d statements; the demo promises at least 30", len(Statements))
	}
	names := map[string]bool{}
	fingerprints := map[string]string{}
	for _, s := range Statements {
		if names[s.Name] {
			t.Errorf("statement %s listed twice", s.Name)
		}
		names[s.Name] = true
		st, err := query.Parse(s.SQL)
		if err != nil {
			t.Errorf("%s does not parse: %v", s.Name, err)
			continue
		}
		if other, ok := fingerprints[st.Fingerprint]; ok {
			t.Errorf("%s and %s are the same statement (fingerprint %s)", s.Name, other, st.Fingerprint)
		}
		fingerprints[st.Fingerprint] = s.Name
		if len(st.Tables) == 0 {
			t.Errorf("%s touches no table", s.Name)
		}
		for _, tbl := range st.Tables {
			if !containsString(Tables, tbl.Name) {
				t.Errorf("%s uses %s, which is not in the schema", s.Name, tbl.Name)
			}
		}
		if s.Purpose == "" {
			t.Errorf("%s has no purpose", s.Name)
		}
	}
	used := map[string]bool{}
	for _, a := range actions {
		for _, u := range a.Uses {
			if !names[u] {
				t.Errorf("action %s uses unknown statement %s", a.Name, u)
			}
			used[u] = true
		}
	}
	for _, s := range Statements {
		if !used[s.Name] {
			t.Errorf("statement %s is run by no action", s.Name)
		}
	}
}

func TestMixFrequencies(t *testing.T) {
	if totalWeight != 1000 {
		t.Errorf("action weights sum to %d; keep them at 1000 so a weight reads as 'per thousand'", totalWeight)
	}
	mix := Mix()
	if len(mix) != len(Statements) {
		t.Fatalf("mix has %d statements, catalogue %d", len(mix), len(Statements))
	}
	// view_slots (120) runs barber_service_menu and book (40) does not: 120 per thousand.
	for _, f := range mix {
		if f.Name == "barber_service_menu" && math.Abs(f.PerThousand-120) > 1e-9 {
			t.Errorf("barber_service_menu: %v per thousand, want 120", f.PerThousand)
		}
		if f.PerThousand <= 0 {
			t.Errorf("%s never runs", f.Name)
		}
	}
	for i := 1; i < len(mix); i++ {
		if mix[i].PerThousand > mix[i-1].PerThousand {
			t.Fatalf("mix not sorted by frequency at %s", mix[i].Name)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// The read/write split sends only reads a hot standby can serve to a replica, and the replica
// gets statements of its own (else the split would show nothing a primary does not see).
func TestReplicaRouteIsReadOnly(t *testing.T) {
	for _, a := range actions {
		if a.Route != onReplica {
			continue
		}
		for _, u := range a.Uses {
			st, err := query.Parse(StatementByName(u).SQL)
			if err != nil {
				t.Fatal(err)
			}
			sql := strings.ToUpper(StatementByName(u).SQL)
			if !strings.HasPrefix(sql, "SELECT") || strings.Contains(sql, "FOR UPDATE") || st.Kind != workload.KindSelect {
				t.Errorf("action %s sends %s (%s) to a replica, which cannot run it", a.Name, u, st.Kind)
			}
		}
	}
	only := replicaOnly()
	if !slices.Contains(only, "barber_day") || slices.Contains(only, "book_appointment") || slices.Contains(only, "client_upcoming") {
		t.Errorf("replica-only statements: %v", only)
	}
}

// routed returns the statements the actions on r run (each once, sorted).
func routed(r Route) []string {
	var out []string
	for _, a := range actions {
		if a.Route == r {
			for _, u := range a.Uses {
				if !slices.Contains(out, u) {
					out = append(out, u)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// replicaOnly returns the statements that, with read replicas, run on the replicas alone: what
// the primary's pg_stat_statements never sees.
func replicaOnly() []string {
	primary := routed(onPrimary)
	var out []string
	for _, n := range routed(onReplica) {
		if !slices.Contains(primary, n) {
			out = append(out, n)
		}
	}
	return out
}
