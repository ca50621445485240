package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/advisor/model"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func keys(cols ...string) []model.IndexKey {
	var out []model.IndexKey
	for _, c := range cols {
		k := model.IndexKey{Column: strings.TrimSuffix(c, " DESC")}
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

func ix(name string, mutate ...func(*model.Index)) model.Index {
	i := model.Index{Schema: "public", Table: "t", Name: name, Method: "btree", Valid: true, Scans: 10, SizeBytes: 1 << 20,
		Definition: "CREATE INDEX " + name + " ON public.t USING btree (…)"}
	for _, m := range mutate {
		m(&i)
	}
	return i
}

func on(cols ...string) func(*model.Index) { return func(i *model.Index) { i.Keys = keys(cols...) } }

var (
	unique       = func(i *model.Index) { i.Unique = true }
	primary      = func(i *model.Index) { i.Unique, i.Primary, i.Constraint = true, true, i.Name }
	neverScanned = func(i *model.Index) { i.Scans = 0 }
	notValid     = func(i *model.Index) { i.Valid = false }
)

func analyze(indexes ...model.Index) []model.Finding {
	reset := now.Add(-30 * 24 * time.Hour)
	snap := &model.Snapshot{
		Server: model.Server{VersionNum: 150000, StatsReset: &reset},
		Tables: []model.Table{{Schema: "public", Name: "t", Kind: "table", TotalBytes: 100 << 20,
			Columns: []model.Column{{Name: "a"}, {Name: "b"}, {Name: "c"}},
			Stats:   &model.TableStats{Inserts: 1000}}},
		Indexes: indexes,
		Constraints: []model.Constraint{{Schema: "public", Table: "t", Name: "t_c_fkey", Type: "foreign_key",
			Columns: []string{"c"}, References: "public.u"}},
	}
	return Analyze(model.NewCatalog(snap), now)
}

func titles(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+": "+f.Title)
	}
	return out
}

func TestAuditMatrix(t *testing.T) {
	cases := []struct {
		name    string
		indexes []model.Index
		want    []string
	}{
		{"exact duplicates: the busier one stays", []model.Index{ix("x1", on("a", "b")), ix("x2", on("a", "b"), func(i *model.Index) { i.Scans = 50 })},
			[]string{"audit.index.duplicate: x1 duplicates x2"}},
		{"a duplicate of the primary key", []model.Index{ix("t_pkey", on("a"), primary), ix("t_a", on("a"))},
			[]string{"audit.index.duplicate: t_a duplicates t_pkey"}},
		{"unique outranks plain", []model.Index{ix("u", on("a"), unique, func(i *model.Index) { i.Scans = 0 }), ix("p", on("a"))},
			[]string{"audit.index.duplicate: p duplicates u"}},
		{"different predicates are not duplicates", []model.Index{ix("x1", on("a")), ix("x2", on("a"), func(i *model.Index) { i.Predicate = "b > 0" })},
			nil},
		{"different methods are not duplicates", []model.Index{ix("x1", on("a")), ix("x2", on("a"), func(i *model.Index) { i.Method = "hash" })}, nil},
		{"different directions are not duplicates", []model.Index{ix("x1", on("a", "b")), ix("x2", on("a", "b DESC"))}, nil},
		{"different INCLUDE are not duplicates", []model.Index{ix("x1", on("a")), ix("x2", on("a"), func(i *model.Index) { i.Include = []string{"b"} })},
			[]string{"audit.index.prefix: x1 is a leading prefix of x2 (index)"}[:0]},
		{"left prefix", []model.Index{ix("ab", on("a", "b")), ix("a", on("a"))}, []string{"audit.index.prefix: a is a leading prefix of ab (index)"}},
		{"prefix of a composite primary key", []model.Index{ix("t_pkey", on("a", "b"), primary), ix("a", on("a"))},
			[]string{"audit.index.prefix: a is a leading prefix of t_pkey (primary key)"}},
		{"a unique prefix enforces something: kept", []model.Index{ix("ab", on("a", "b")), ix("a", on("a"), unique)}, nil},
		{"not a prefix when the order differs", []model.Index{ix("ab", on("a", "b")), ix("b", on("b"))}, nil},
		{"a prefix whose INCLUDE the wider index lacks is kept", []model.Index{ix("ab", on("a", "b")), ix("a", on("a"), func(i *model.Index) { i.Include = []string{"c"} })}, nil},
		{"a prefix whose INCLUDE the wider index keys hold", []model.Index{ix("ab", on("a", "b")), ix("a", on("a"), func(i *model.Index) { i.Include = []string{"b"} })},
			[]string{"audit.index.prefix: a is a leading prefix of ab (index)"}},
		{"expression keys compare as expressions", []model.Index{ix("e1", on("(lower(a))")), ix("e2", on("(lower(a))"))}, []string{"audit.index.duplicate: e2 duplicates e1"}},
		{"invalid", []model.Index{ix("bad", on("a"), notValid)}, []string{"audit.index.invalid: bad is INVALID: a failed build left it behind"}},
		{"unused", []model.Index{ix("idle", on("b"), neverScanned)}, []string{"audit.index.unused: idle has not been used since the statistics reset"}},
		{"unused unique and primary indexes are kept", []model.Index{ix("t_pkey", on("a"), primary, neverScanned), ix("u", on("b"), unique, neverScanned)}, nil},
		{"an index attached to its parent's outranks a plain one", []model.Index{ix("att", on("a"), func(i *model.Index) { i.Attached, i.Scans = true, 0 }), ix("own", on("a"))},
			[]string{"audit.index.duplicate: own duplicates att"}},
		{"an attached index is never reported unused", []model.Index{ix("att", on("b"), neverScanned, func(i *model.Index) { i.Attached = true })}, nil},
		{"an unused duplicate is reported once", []model.Index{ix("x1", on("a")), ix("x2", on("a"), neverScanned)}, []string{"audit.index.duplicate: x2 duplicates x1"}},
		{"the covering index takes over its prefix's scans: not unused", []model.Index{ix("a", on("a")), ix("ab", on("a", "b"), neverScanned)},
			[]string{"audit.index.prefix: a is a leading prefix of ab (index)"}},
		{"two unused duplicates: one duplicates, the other is unused", []model.Index{ix("x1", on("a"), neverScanned), ix("x2", on("a"), neverScanned)},
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
	fs := analyze(ix("on_fk", on("c"), neverScanned), ix("big", on("b"), neverScanned, func(i *model.Index) { i.SizeBytes = 200 << 20 }))
	sev := map[string]model.Severity{}
	for _, f := range fs {
		sev[f.Index.Name] = f.Severity
		if !strings.HasPrefix(f.SQL, "DROP INDEX CONCURRENTLY IF EXISTS public.") || !strings.Contains(f.Action, "to undo") {
			t.Errorf("%s: sql %q action %q", f.Index.Name, f.SQL, f.Action)
		}
	}
	if sev["big"] != model.SeverityMedium || sev["on_fk"] != model.SeverityLow {
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
		server  model.Server
		want    model.Severity
		inTitle string
	}{
		{"reset two days ago", model.Server{VersionNum: 160000, StatsReset: &young}, model.SeverityInfo, "since the statistics reset"},
		{"PG 14 restarted an hour ago", model.Server{VersionNum: 140000, StartedAt: &started}, model.SeverityInfo, "since the server started"},
		// stats_reset NULL: how long the counters have counted is unknown, which counts as too
		// young (no drop is generated from an info finding).
		{"PG 15, statistics never reset", model.Server{VersionNum: 150000, StartedAt: &started}, model.SeverityInfo, "since the cluster was created"},
		{"PG 15 keeps counters over a restart", model.Server{VersionNum: 150000, StartedAt: &started, StatsReset: &old}, model.SeverityLow, "since the statistics reset"},
	} {
		snap := &model.Snapshot{Server: c.server,
			Tables:  []model.Table{{Schema: "public", Name: "t", Kind: "table", Stats: &model.TableStats{}}},
			Indexes: []model.Index{ix("idle", on("b"), neverScanned)}}
		fs := Analyze(model.NewCatalog(snap), now)
		if len(fs) != 1 || fs[0].Severity != c.want || !strings.Contains(fs[0].Title, c.inTitle) {
			t.Errorf("%s: %+v", c.name, fs)
		}
	}
}

func TestInvalidIndexBeingBuiltIsInfo(t *testing.T) {
	snap := &model.Snapshot{Tables: []model.Table{{Schema: "public", Name: "t", Kind: "table"}},
		Indexes: []model.Index{ix("building", on("a"), notValid)}, IndexBuilds: []string{"public.building"}}
	fs := Analyze(model.NewCatalog(snap), now)
	if len(fs) != 1 || fs[0].Severity != model.SeverityInfo || fs[0].SQL != "" {
		t.Errorf("%+v", fs)
	}
}

// On a cluster an index is unused only if every node was read, has it, and never scanned it:
// a replica that scanned it keeps it, one that could not be read or has not replayed its
// creation yet (its replay lags) makes "unused" unknown, with no drop.
func TestUnusedOnACluster(t *testing.T) {
	old := now.Add(-30 * 24 * time.Hour)
	replica := func(scans int64, have bool) model.Replica {
		r := model.Replica{Name: "replica1:5432", Server: model.Server{VersionNum: 170000, StatsReset: &old}}
		if have {
			r.IndexScans = []model.IndexScans{{Schema: "public", Name: "idle", Scans: scans}}
		}
		return r
	}
	for _, c := range []struct {
		name      string
		replicas  []model.Replica
		streaming int
		want      string // "": no finding; "drop": unused with its DROP; else in the unknown detail
	}{
		{"the replica scans it", []model.Replica{replica(12, true)}, 1, ""},
		{"no node scans it", []model.Replica{replica(0, true)}, 1, "drop"},
		{"the replica could not be read", []model.Replica{{Name: "replica1:5432", Error: "connection refused"}}, 1, "could not be read"},
		{"the replica has not replayed the index yet", []model.Replica{replica(0, false)}, 1, "replica1:5432 does not have it yet"},
		{"replicas stream but none was given", nil, 2, "2 replica(s) stream from this server"},
	} {
		snap := &model.Snapshot{Server: model.Server{VersionNum: 170000, StatsReset: &old}, Replicas: c.replicas, StreamingReplicas: c.streaming,
			Tables:  []model.Table{{Schema: "public", Name: "t", Kind: "table", Stats: &model.TableStats{}}},
			Indexes: []model.Index{ix("idle", on("b"), neverScanned)}}
		fs := Analyze(model.NewCatalog(snap), now)
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
			if len(fs) != 1 || fs[0].SQL != "" || fs[0].Severity != model.SeverityInfo || !strings.Contains(fs[0].Detail, c.want) {
				t.Errorf("%s: want an unknown finding without a drop saying %q, got %+v", c.name, c.want, fs)
			}
		}
	}
}
