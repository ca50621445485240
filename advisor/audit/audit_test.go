package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func keys(cols ...string) []dbstate.IndexKey {
	var out []dbstate.IndexKey
	for _, c := range cols {
		k := dbstate.IndexKey{Column: strings.TrimSuffix(c, " DESC")}
		if strings.HasSuffix(c, " DESC") {
			k.Desc, k.NullsFirst = true, true
		}
		if strings.HasPrefix(c, "(") {
			k.Column, k.Expr = "", strings.Trim(c, "()")
		}
		out = append(out, k)
	}
	return out
}

func ix(name string, mutate ...func(*dbstate.Index)) dbstate.Index {
	i := dbstate.Index{Schema: "public", Table: "t", Name: name, Method: "btree", Valid: true, Scans: 10, SizeBytes: 1 << 20,
		Definition: "CREATE INDEX " + name + " ON public.t USING btree (…)"}
	for _, m := range mutate {
		m(&i)
	}
	return i
}

func on(cols ...string) func(*dbstate.Index) {
	return func(i *dbstate.Index) { i.Keys = keys(cols...) }
}

var (
	unique       = func(i *dbstate.Index) { i.Unique = true }
	primary      = func(i *dbstate.Index) { i.Unique, i.Primary, i.Constraint = true, true, i.Name }
	neverScanned = func(i *dbstate.Index) { i.Scans = 0 }
	notValid     = func(i *dbstate.Index) { i.Valid = false }
)

func analyze(indexes ...dbstate.Index) []finding.Finding {
	reset := now.Add(-30 * 24 * time.Hour)
	snap := &dbstate.Snapshot{
		Server: dbstate.Server{VersionNum: 150000, StatsReset: &reset},
		Tables: []dbstate.Table{{Schema: "public", Name: "t", Kind: "table", TotalBytes: 100 << 20,
			Columns: []dbstate.Column{{Name: "a"}, {Name: "b"}, {Name: "c"}},
			Stats:   &dbstate.TableStats{Inserts: 1000}}},
		Indexes: indexes,
		Constraints: []dbstate.Constraint{{Schema: "public", Table: "t", Name: "t_c_fkey", Type: "foreign_key",
			Columns: []string{"c"}, References: "public.u"}},
	}
	return Analyze(dbstate.NewCatalog(snap), now)
}

func titles(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+": "+f.Title)
	}
	return out
}

func TestAuditMatrix(t *testing.T) {
	cases := []struct {
		name    string
		indexes []dbstate.Index
		want    []string
	}{
		{"exact duplicates: the busier one stays", []dbstate.Index{ix("x1", on("a", "b")), ix("x2", on("a", "b"), func(i *dbstate.Index) { i.Scans = 50 })},
			[]string{"audit.index.duplicate: x1 duplicates x2"}},
		{"a duplicate of the primary key", []dbstate.Index{ix("t_pkey", on("a"), primary), ix("t_a", on("a"))},
			[]string{"audit.index.duplicate: t_a duplicates t_pkey"}},
		{"unique outranks plain", []dbstate.Index{ix("u", on("a"), unique, func(i *dbstate.Index) { i.Scans = 0 }), ix("p", on("a"))},
			[]string{"audit.index.duplicate: p duplicates u"}},
		{"different predicates are not duplicates", []dbstate.Index{ix("x1", on("a")), ix("x2", on("a"), func(i *dbstate.Index) { i.Predicate = "b > 0" })},
			nil},
		{"different methods are not duplicates", []dbstate.Index{ix("x1", on("a")), ix("x2", on("a"), func(i *dbstate.Index) { i.Method = "hash" })}, nil},
		{"different directions are not duplicates", []dbstate.Index{ix("x1", on("a", "b")), ix("x2", on("a", "b DESC"))}, nil},
		{"different INCLUDE are not duplicates", []dbstate.Index{ix("x1", on("a")), ix("x2", on("a"), func(i *dbstate.Index) { i.Include = []string{"b"} })},
			[]string{"audit.index.prefix: x1 is a leading prefix of x2 (index)"}[:0]},
		{"left prefix", []dbstate.Index{ix("ab", on("a", "b")), ix("a", on("a"))}, []string{"audit.index.prefix: a is a leading prefix of ab (index)"}},
		{"prefix of a composite primary key", []dbstate.Index{ix("t_pkey", on("a", "b"), primary), ix("a", on("a"))},
			[]string{"audit.index.prefix: a is a leading prefix of t_pkey (primary key)"}},
		{"a unique prefix enforces something: kept", []dbstate.Index{ix("ab", on("a", "b")), ix("a", on("a"), unique)}, nil},
		{"not a prefix when the order differs", []dbstate.Index{ix("ab", on("a", "b")), ix("b", on("b"))}, nil},
		{"a prefix whose INCLUDE the wider index lacks is kept", []dbstate.Index{ix("ab", on("a", "b")), ix("a", on("a"), func(i *dbstate.Index) { i.Include = []string{"c"} })}, nil},
		{"a prefix whose INCLUDE the wider index keys hold", []dbstate.Index{ix("ab", on("a", "b")), ix("a", on("a"), func(i *dbstate.Index) { i.Include = []string{"b"} })},
			[]string{"audit.index.prefix: a is a leading prefix of ab (index)"}},
		{"expression keys compare as expressions", []dbstate.Index{ix("e1", on("(lower(a))")), ix("e2", on("(lower(a))"))}, []string{"audit.index.duplicate: e2 duplicates e1"}},
		{"invalid", []dbstate.Index{ix("bad", on("a"), notValid)}, []string{"audit.index.invalid: bad is INVALID: a failed build left it behind"}},
		{"unused", []dbstate.Index{ix("idle", on("b"), neverScanned)}, []string{"audit.index.unused: idle has not been used since the statistics reset"}},
		{"unused unique and primary indexes are kept", []dbstate.Index{ix("t_pkey", on("a"), primary, neverScanned), ix("u", on("b"), unique, neverScanned)}, nil},
		{"an index attached to its parent's outranks a plain one", []dbstate.Index{ix("att", on("a"), func(i *dbstate.Index) { i.Attached, i.Scans = true, 0 }), ix("own", on("a"))},
			[]string{"audit.index.duplicate: own duplicates att"}},
		{"an attached index is never reported unused", []dbstate.Index{ix("att", on("b"), neverScanned, func(i *dbstate.Index) { i.Attached = true })}, nil},
		{"an unused duplicate is reported once", []dbstate.Index{ix("x1", on("a")), ix("x2", on("a"), neverScanned)}, []string{"audit.index.duplicate: x2 duplicates x1"}},
		{"the covering index takes over its prefix's scans: not unused", []dbstate.Index{ix("a", on("a")), ix("ab", on("a", "b"), neverScanned)},
			[]string{"audit.index.prefix: a is a leading prefix of ab (index)"}},
		{"two unused duplicates: one duplicates, the other is unused", []dbstate.Index{ix("x1", on("a"), neverScanned), ix("x2", on("a"), neverScanned)},
			[]string{"audit.index.duplicate: x2 duplicates x1", "audit.index.unused: x1 has not been used since the statistics reset"}},
	}
	for _, c := range cases {
		got := titles(analyze(c.indexes...))
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got  %q\n want %q", c.name, got, c.want)
		}
	}
}

func TestUnusedSeverity(t *testing.T) {
	fs := analyze(ix("on_fk", on("c"), neverScanned), ix("big", on("b"), neverScanned, func(i *dbstate.Index) { i.SizeBytes = 200 << 20 }))
	sev := map[string]finding.Severity{}
	for _, f := range fs {
		sev[f.Index.Name] = f.Severity
		if !strings.HasPrefix(f.SQL, "DROP INDEX CONCURRENTLY IF EXISTS public.") || !strings.Contains(f.Action, "to undo") {
			t.Errorf("%s: sql %q action %q", f.Index.Name, f.SQL, f.Action)
		}
	}
	if sev["big"] != finding.SeverityMedium || sev["on_fk"] != finding.SeverityLow {
		t.Errorf("severities %v", sev)
	}
	if f := fs[len(fs)-1]; !strings.Contains(f.Detail, "foreign key t_c_fkey") {
		t.Errorf("the foreign-key caveat is missing: %s", f.Detail)
	} else if fk, _ := f.Evidence.Get("foreign_key"); fk != "t_c_fkey" {
		t.Errorf("the evidence does not name the foreign key: %v", f.Evidence)
	}
	if _, ok := fs[0].Evidence.Get("foreign_key"); ok {
		t.Errorf("%s serves no foreign key: %v", fs[0].Index.Name, fs[0].Evidence)
	}
}

func TestUnusedNeedsOldEnoughStatistics(t *testing.T) {
	young := now.Add(-2 * 24 * time.Hour)
	old := now.Add(-30 * 24 * time.Hour)
	started := now.Add(-time.Hour)
	for _, c := range []struct {
		name    string
		server  dbstate.Server
		want    finding.Severity
		inTitle string
	}{
		{"reset two days ago", dbstate.Server{VersionNum: 160000, StatsReset: &young}, finding.SeverityInfo, "since the statistics reset"},
		{"PG 14 restarted an hour ago", dbstate.Server{VersionNum: 140000, StartedAt: &started}, finding.SeverityInfo, "since the server started"},
		// stats_reset NULL: how long the counters have counted is unknown, which counts as too
		// young (no drop is generated from an info finding).
		{"PG 15, statistics never reset", dbstate.Server{VersionNum: 150000, StartedAt: &started}, finding.SeverityInfo, "since the cluster was created"},
		{"PG 15 keeps counters over a restart", dbstate.Server{VersionNum: 150000, StartedAt: &started, StatsReset: &old}, finding.SeverityLow, "since the statistics reset"},
	} {
		snap := &dbstate.Snapshot{Server: c.server,
			Tables:  []dbstate.Table{{Schema: "public", Name: "t", Kind: "table", Stats: &dbstate.TableStats{}}},
			Indexes: []dbstate.Index{ix("idle", on("b"), neverScanned)}}
		fs := Analyze(dbstate.NewCatalog(snap), now)
		if len(fs) != 1 || fs[0].Severity != c.want || !strings.Contains(fs[0].Title, c.inTitle) {
			t.Errorf("%s: %+v", c.name, fs)
		}
	}
}

func TestInvalidIndexBeingBuiltIsInfo(t *testing.T) {
	snap := &dbstate.Snapshot{Tables: []dbstate.Table{{Schema: "public", Name: "t", Kind: "table"}},
		Indexes: []dbstate.Index{ix("building", on("a"), notValid)}, IndexBuilds: []string{"public.building"}}
	fs := Analyze(dbstate.NewCatalog(snap), now)
	if len(fs) != 1 || fs[0].Severity != finding.SeverityInfo || fs[0].SQL != "" {
		t.Errorf("%+v", fs)
	}
}

// On a cluster an index is unused only if every node was read, has it, and never scanned it:
// a replica that scanned it keeps it, one that could not be read or has not replayed its
// creation yet (its replay lags) makes "unused" unknown, with no drop.
func TestUnusedOnACluster(t *testing.T) {
	old := now.Add(-30 * 24 * time.Hour)
	replica := func(scans int64, have bool) dbstate.Replica {
		r := dbstate.Replica{Name: "replica1:5432", Server: dbstate.Server{VersionNum: 170000, StatsReset: &old}}
		if have {
			r.IndexScans = []dbstate.IndexScans{{Schema: "public", Name: "idle", Scans: scans}}
		}
		return r
	}
	for _, c := range []struct {
		name      string
		replicas  []dbstate.Replica
		streaming int
		want      string // "": no finding; "drop": unused with its DROP; else in the unknown detail
	}{
		{"the replica scans it", []dbstate.Replica{replica(12, true)}, 1, ""},
		{"no node scans it", []dbstate.Replica{replica(0, true)}, 1, "drop"},
		{"the replica could not be read", []dbstate.Replica{{Name: "replica1:5432", Error: "connection refused"}}, 1, "could not be read"},
		{"the replica has not replayed the index yet", []dbstate.Replica{replica(0, false)}, 1, "replica1:5432 does not have it yet"},
		{"replicas stream but none was given", nil, 2, "2 replica(s) stream from this server"},
	} {
		snap := &dbstate.Snapshot{Server: dbstate.Server{VersionNum: 170000, StatsReset: &old}, Replicas: c.replicas, StreamingReplicas: c.streaming,
			Tables:  []dbstate.Table{{Schema: "public", Name: "t", Kind: "table", Stats: &dbstate.TableStats{}}},
			Indexes: []dbstate.Index{ix("idle", on("b"), neverScanned)}}
		fs := Analyze(dbstate.NewCatalog(snap), now)
		switch {
		case c.want == "":
			if len(fs) != 0 {
				t.Errorf("%s: %+v", c.name, fs)
			}
		case c.want == "drop":
			if len(fs) != 1 || !strings.HasPrefix(fs[0].SQL, "DROP INDEX") {
				t.Errorf("%s: %+v", c.name, fs)
			}
		default:
			if len(fs) != 1 || fs[0].SQL != "" || fs[0].Severity != finding.SeverityInfo || !strings.Contains(fs[0].Detail, c.want) {
				t.Errorf("%s: want an unknown finding without a drop saying %q, got %+v", c.name, c.want, fs)
			}
		}
	}
}
