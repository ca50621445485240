// Package audit reviews the indexes a database already has: exact duplicates, indexes whose
// keys are a leading prefix of another's (including ones that repeat the primary key), indexes a
// failed CREATE INDEX CONCURRENTLY left invalid, and indexes no statement has used since the
// statistics were reset. It reads the snapshot only; it does no I/O.
package audit

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Thresholds.
const (
	// UnusedMinAge is how long statistics must have been gathering before a never-scanned index
	// is reported above info: younger counters may simply not have seen the monthly report yet.
	UnusedMinAge = 7 * 24 * time.Hour
	// LargeIndex is the size from which a redundant index is more than a low-severity finding.
	LargeIndex = 100 << 20
)

// Analyze returns the audit's findings, in a stable order (per table, then per rule).
func Analyze(cat *dbstate.Catalog, now time.Time) []finding.Finding {
	snap := cat.Snapshot()
	var out []finding.Finding
	building := map[string]bool{}
	for _, b := range snap.IndexBuilds {
		building[b] = true
	}
	dbBytes := int64(0)
	for _, t := range snap.Tables {
		dbBytes += t.TotalBytes
	}
	for i := range snap.Tables {
		t := &snap.Tables[i]
		idx := cat.Indexes(t.Key())
		red := redundant(t, idx, dbBytes)
		out = append(out, red...)
		if snap.Server.VersionNum >= 180000 {
			out = append(out, skipScanCovered(cat, t, idx, dbBytes, red)...)
		}
		dropped := map[string]bool{}
		absorbed := map[string]int64{}
		for _, f := range red {
			dropped[f.Index.Name] = true // one finding per index: its drop is already advised
			// The kept index takes over the dropped one's scans: the planner picks between equal
			// indexes arbitrarily, so a keeper with no scans of its own is not unused.
			if keep, ok := f.Evidence.Get("kept_index"); ok {
				if n, ok := f.Evidence.Get("idx_scan"); ok {
					absorbed[keep.(string)] += n.(int64)
				}
			}
		}
		for _, ix := range idx {
			if !ix.Valid {
				out = append(out, invalid(t, ix, building[ix.Key()]))
			}
		}
		out = append(out, unused(cat, t, idx, now, dbBytes, dropped, absorbed)...)
	}
	return out
}

// sameKeys reports whether two key lists are equal, column by column (name or expression,
// operator class, collation, order).
func sameKeys(a, b []dbstate.IndexKey) bool {
	return slices.Equal(a, b)
}

// prefixOf reports whether a's keys are a strict leading prefix of b's.
func prefixOf(a, b []dbstate.IndexKey) bool {
	return len(a) < len(b) && slices.Equal(a, b[:len(a)])
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// covers reports whether b holds every column a keeps for index-only scans.
func covers(b *dbstate.Index, include []string) bool {
	for _, c := range include {
		found := slices.Contains(b.Include, c)
		for _, k := range b.Keys {
			found = found || k.Column == c
		}
		if !found {
			return false
		}
	}
	return true
}

// keepRank orders two equal indexes: the one to keep ranks higher. Constraint-backed and
// unique indexes must stay; among plain ones the busier, then the alphabetically first, stays.
func keepRank(ix *dbstate.Index) int {
	switch {
	case ix.Primary:
		return 4
	case ix.Constraint != "" || ix.Attached || len(ix.ReferencedBy) > 0:
		return 3
	case ix.Unique:
		return 2
	case ix.Valid:
		return 1
	}
	return 0
}

func redundant(t *dbstate.Table, idx []*dbstate.Index, dbBytes int64) []finding.Finding {
	var out []finding.Finding
	reported := map[*dbstate.Index]bool{}
	for _, a := range idx {
		for _, b := range idx {
			if a == b || !a.Valid || !b.Valid || a.Method != b.Method || a.Predicate != b.Predicate || reported[a] || reported[b] {
				continue
			}
			if sameKeys(a.Keys, b.Keys) && sameSet(a.Include, b.Include) {
				// Report each pair once, dropping the one that ranks lower.
				drop, keep := a, b
				if r1, r2 := keepRank(a), keepRank(b); r1 > r2 || (r1 == r2 && (a.Scans > b.Scans || (a.Scans == b.Scans && a.Name < b.Name))) {
					drop, keep = b, a
				}
				if drop != a {
					continue // the loop meets the pair again the other way round
				}
				if drop.Attached {
					continue // both belong to the parent's indexes: advised there, not here
				}
				reported[drop] = true
				out = append(out, duplicateFinding(t, drop, keep, dbBytes))
				continue
			}
			if a.Method == "btree" && !a.Unique && a.Constraint == "" && !a.Attached && prefixOf(a.Keys, b.Keys) && covers(b, a.Include) {
				reported[a] = true
				out = append(out, prefixFinding(t, a, b, dbBytes))
			}
		}
	}
	return out
}

func sizeSeverity(bytes int64) finding.Severity {
	if bytes >= LargeIndex {
		return finding.SeverityMedium
	}
	return finding.SeverityLow
}

func share(bytes, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return float64(int64(float64(bytes)/float64(total)*10000+0.5)) / 10000
}

func spec(ix *dbstate.Index) *finding.IndexSpec {
	s := &finding.IndexSpec{Schema: ix.Schema, Table: ix.Table, Name: ix.Name, Method: ix.Method,
		Include: ix.Include, Where: ix.Predicate, Unique: ix.Unique}
	for _, k := range ix.Keys {
		s.Columns = append(s.Columns, k.String())
	}
	return s
}

func dropSQL(ix *dbstate.Index) string {
	return fmt.Sprintf("DROP INDEX CONCURRENTLY IF EXISTS %s;", quote.QualifiedKey(ix.Key()))
}

func duplicateFinding(t *dbstate.Table, drop, keep *dbstate.Index, dbBytes int64) finding.Finding {
	f := finding.Finding{
		Rule: "audit.index.duplicate", Kind: finding.KindIndex, Table: t.Key(), Severity: max(sizeSeverity(drop.SizeBytes), finding.SeverityMedium),
		Title: fmt.Sprintf("%s duplicates %s", drop.Name, keep.Name),
		Detail: fmt.Sprintf("Both indexes have the same method, keys, INCLUDE columns and predicate, so the planner can use "+
			"either and never needs both. Every insert and every non-HOT update writes both, and both take space and "+
			"cache. %s is the one to keep (%s).", keep.Name, keepReason(keep)),
		Evidence: finding.Facts("index", drop.Definition, "duplicate_of", keep.Definition, "size_bytes", drop.SizeBytes,
			"idx_scan", drop.Scans, "kept_idx_scan", keep.Scans, "kept_index", keep.Name),
		Index:  spec(drop),
		Impact: share(drop.SizeBytes, dbBytes),
		SQL:    dropSQL(drop),
	}
	switch {
	case len(drop.ReferencedBy) > 0:
		// Both twins are depended on: dropping this one fails while the foreign key uses it.
		f.SQL = ""
		f.Evidence = append(f.Evidence, finding.Fact{Name: "referenced_by", Value: strings.Join(drop.ReferencedBy, ", ")})
		f.Action = "foreign key " + strings.Join(drop.ReferencedBy, ", ") + " checks through " + drop.Name + " (PostgreSQL refuses to drop it): " +
			"drop and re-add that foreign key (NOT VALID, then VALIDATE CONSTRAINT) so it uses " + keep.Name + ", then drop " + drop.Name
	case drop.Constraint != "":
		f.SQL = fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s;", quote.QualifiedKey(t.Key()), quote.Ident(drop.Constraint))
		f.Action = "the duplicate backs constraint " + drop.Constraint + ", which " + keep.Name + " enforces as well; dropping the constraint drops its index (check that nothing references it by name)"
	}
	return f
}

func keepReason(ix *dbstate.Index) string {
	switch {
	case ix.Primary:
		return "it backs the primary key"
	case ix.Constraint != "":
		return "it backs constraint " + ix.Constraint
	case len(ix.ReferencedBy) > 0:
		return "foreign key " + strings.Join(ix.ReferencedBy, ", ") + " checks through it"
	case ix.Attached:
		return "it is attached to its partitioned table's index"
	case ix.Unique:
		return "it is unique"
	}
	return fmt.Sprintf("%d scans since the statistics were reset", ix.Scans)
}

// maxSkipValues is how many distinct values of the keys a skip scan steps over the audit accepts as
// "serves it too": a descent per value, so a handful costs little more than the narrower index.
const maxSkipValues = 16

// skipScanCovered (18+): B-tree skip scan lets (a, b) serve b = $1 with one descent per distinct
// value of a, so with a handful of them an index on (b) is nearly redundant. Whether the
// narrower index is worth its writes is the planner's call: the finding is informational, and
// `pgtune indexes generate --include-drops` writes the drop only when HypoPG (1.4+) proves no
// statement gets dearer.
func skipScanCovered(cat *dbstate.Catalog, t *dbstate.Table, idx []*dbstate.Index, dbBytes int64, already []finding.Finding) []finding.Finding {
	reported := map[string]bool{}
	for _, f := range already {
		reported[f.Index.Name] = true
	}
	var out []finding.Finding
	for _, a := range idx {
		if a.Method != "btree" || a.Unique || a.Constraint != "" || a.Attached || !a.Valid || reported[a.Name] || len(a.Keys) == 0 {
			continue
		}
		for _, b := range idx {
			if b == a || b.Method != "btree" || !b.Valid || b.Predicate != a.Predicate || len(b.Keys) <= len(a.Keys) || !covers(b, a.Include) {
				continue
			}
			// a's keys follow one or more leading keys of b that a skip scan steps over.
			skip := 0
			for s := 1; s+len(a.Keys) <= len(b.Keys); s++ {
				if slices.Equal(a.Keys, b.Keys[s:s+len(a.Keys)]) {
					skip = s
					break
				}
			}
			if skip == 0 {
				continue
			}
			values := 1.0
			var skipped []string
			for _, k := range b.Keys[:skip] {
				cs := cat.ColumnStat(t.Key(), k.Column)
				if k.Column == "" || cs == nil {
					values = math.Inf(1)
					break
				}
				nd := cs.NDistinct
				if nd < 0 {
					nd = -nd * t.RowEstimate
				}
				values *= math.Max(nd, 1)
				skipped = append(skipped, k.Column)
			}
			if values > maxSkipValues {
				continue
			}
			reported[a.Name] = true
			out = append(out, finding.Finding{
				Rule: "audit.index.skip_scan", Kind: finding.KindIndex, Table: t.Key(), Severity: finding.SeverityInfo,
				Title: fmt.Sprintf("On PostgreSQL 18, %s serves %s's searches with a skip scan over %s's %.0f values", b.Name, a.Name, strings.Join(skipped, ", "), values),
				Detail: fmt.Sprintf("From 18 a B-tree index can skip its leading columns: %s answers a condition on %s with one descent per distinct value of %s. "+
					"%s is a little faster for those searches, but costs a write on every insert and non-HOT update and space in the cache. "+
					"Price the drop with the planner before making it: pgtune indexes generate --include-drops writes it only when HypoPG 1.4+ shows no statement gets dearer.",
					b.Name, strings.Join(keyNames(a.Keys), ", "), strings.Join(skipped, ", "), a.Name),
				Evidence: finding.Facts("index", a.Definition, "served_by", b.Definition, "skipped_keys", strings.Join(skipped, ", "),
					"skipped_values", values, "size_bytes", a.SizeBytes, "idx_scan", a.Scans, "covering_idx_scan", b.Scans, "kept_index", b.Name),
				Index:  spec(a),
				Impact: share(a.SizeBytes, dbBytes),
				SQL:    dropSQL(a),
				Action: "run pgtune indexes generate --include-drops on the server (HypoPG 1.4+) to have the drop priced",
			})
			break
		}
	}
	return out
}

func keyNames(keys []dbstate.IndexKey) []string {
	var out []string
	for _, k := range keys {
		if k.Column != "" {
			out = append(out, k.Column)
		} else {
			out = append(out, k.Expr)
		}
	}
	return out
}

func prefixFinding(t *dbstate.Table, a, b *dbstate.Index, dbBytes int64) finding.Finding {
	what := "index"
	switch {
	case b.Primary:
		what = "primary key"
	case b.Constraint != "":
		what = "constraint " + b.Constraint
	}
	return finding.Finding{
		Rule: "audit.index.prefix", Kind: finding.KindIndex, Table: t.Key(), Severity: sizeSeverity(a.SizeBytes),
		Title: fmt.Sprintf("%s is a leading prefix of %s (%s)", a.Name, b.Name, what),
		Detail: fmt.Sprintf("Every search %s can serve, %s can serve too: its keys start with the same columns in the same "+
			"order. The narrower index is a little faster to scan, but it costs a write on every insert and non-HOT "+
			"update and space in the cache; drop it unless a measured query needs its smaller size.", a.Name, b.Name),
		Evidence: finding.Facts("index", a.Definition, "covered_by", b.Definition, "size_bytes", a.SizeBytes,
			"idx_scan", a.Scans, "covering_idx_scan", b.Scans, "kept_index", b.Name),
		Index:  spec(a),
		Impact: share(a.SizeBytes, dbBytes),
		SQL:    dropSQL(a),
	}
}

func invalid(t *dbstate.Table, ix *dbstate.Index, building bool) finding.Finding {
	f := finding.Finding{
		Rule: "audit.index.invalid", Kind: finding.KindIndex, Table: t.Key(), Severity: finding.SeverityHigh,
		Title: fmt.Sprintf("%s is INVALID: a failed build left it behind", ix.Name),
		Detail: "A CREATE INDEX CONCURRENTLY (or REINDEX CONCURRENTLY) that failed or was cancelled leaves an index " +
			"marked invalid: the planner never uses it, yet every write still maintains it. CREATE INDEX ... IF NOT " +
			"EXISTS would skip over it because the name exists. Drop it and build it again.",
		Evidence: finding.Facts("index", ix.Definition, "size_bytes", ix.SizeBytes),
		Index:    spec(ix),
	}
	if building {
		f.Severity = finding.SeverityInfo
		f.Title = fmt.Sprintf("%s is being built right now (invalid until it finishes)", ix.Name)
		f.Detail = "pg_stat_progress_create_index shows a build of this index in progress; it is invalid until the build finishes."
		return f
	}
	if ix.Partitioned {
		f.Detail = "An index on a partitioned table stays invalid until every partition has a matching index attached."
		f.Action = "create the missing partition indexes and attach them with ALTER INDEX " + quote.QualifiedKey(ix.Key()) + " ATTACH PARTITION <partition index>"
		return f
	}
	f.SQL = dropSQL(ix) + "\n" + concurrently(ix.Definition) + ";"
	if ix.Unique {
		f.Action = "a unique build usually fails on duplicate keys: remove them before building again"
	}
	return f
}

// concurrently turns a pg_get_indexdef definition into its CREATE ... CONCURRENTLY form.
func concurrently(def string) string {
	for _, p := range []string{"CREATE UNIQUE INDEX ", "CREATE INDEX "} {
		if strings.HasPrefix(def, p) {
			return p + "CONCURRENTLY " + strings.TrimPrefix(def, p)
		}
	}
	return def
}

// statsAge is how long a server's index usage counters have been counting, if known.
func statsAge(srv dbstate.Server, now time.Time) (time.Duration, string) {
	since := srv.StatsReset
	how := "since the statistics reset"
	if srv.VersionNum > 0 && srv.VersionNum < 150000 && srv.StartedAt != nil &&
		(since == nil || srv.StartedAt.After(*since)) {
		// Before PostgreSQL 15 a restart discards the counters.
		since, how = srv.StartedAt, "since the server started (PostgreSQL before 15 loses the counters on restart)"
	}
	if since == nil {
		return -1, "since the cluster was created (the statistics were never reset)"
	}
	return now.Sub(*since), how
}

func unused(cat *dbstate.Catalog, t *dbstate.Table, idx []*dbstate.Index, now time.Time, dbBytes int64, dropped map[string]bool, absorbed map[string]int64) []finding.Finding {
	snap := cat.Snapshot()
	if t.Stats == nil {
		return nil // no usage counters for this table (a partitioned parent, or a dump)
	}
	var fks []*dbstate.Constraint
	for _, c := range cat.Constraints(t.Key()) {
		if c.Type == "foreign_key" {
			fks = append(fks, c)
		}
	}
	age, since := statsAge(snap.Server, now)
	// On a cluster an index is unused only if no node scanned it, and only as long as the
	// youngest node's counters have counted.
	for _, r := range snap.Replicas {
		if r.Error != "" {
			continue
		}
		if a, s := statsAge(r.Server, now); a < age || a < 0 {
			age, since = a, s+" on "+r.Name
		}
	}
	unread := unreadReplicas(snap)
	var out []finding.Finding
	for _, ix := range idx {
		total, perNode, complete, lagging := snap.NodeScans(ix)
		if total != 0 || ix.Scans < 0 || !ix.Valid || ix.Unique || ix.Primary || ix.Constraint != "" || ix.Partitioned ||
			ix.Attached || ix.Name == t.ReplicaIdentityIndex || dropped[ix.Name] || absorbed[ix.Name] > 0 {
			continue
		}
		sev := sizeSeverity(ix.SizeBytes)
		ageText := "unknown"
		if age >= 0 {
			ageText = fmt.Sprintf("%.1f days", age.Hours()/24)
		}
		if age < UnusedMinAge { // an unknown age (-1) counts as too young
			sev = finding.SeverityInfo
		}
		where := "The counters are this server's only: check that no replica's queries use it before dropping it, and keep " +
			"its definition to build it again."
		if len(snap.Replicas) > 0 {
			where = fmt.Sprintf("No node scanned it: the primary and %d replica(s) (%s). Keep its definition to build it again.",
				len(snap.Replicas)-len(unread), strings.Join(nodeNames(snap), ", "))
		}
		detail := fmt.Sprintf("No statement has scanned this index %s (%s). It still costs a write on every insert and "+
			"non-HOT update (%d inserts, %d updates, %d deletes on the table in that time) and space in the cache. %s",
			since, ageText, t.Stats.Inserts, t.Stats.Updates, t.Stats.Deletes, where)
		evidence := finding.Facts("index", ix.Definition, "size_bytes", ix.SizeBytes, "idx_scan", ix.Scans, "stats_age", ageText)
		if len(snap.Replicas) > 0 {
			evidence = append(evidence, finding.Fact{Name: "idx_scan_per_node", Value: perNode})
		}
		// What is not known to be unused everywhere is never dropped: a replica that could not
		// be read, or replicas streaming from this server that were not read at all.
		unknown := ""
		switch {
		case !complete:
			unknown = fmt.Sprintf("Whether it is unused is unknown: %s could not be read (%s), and its queries may use it. "+
				"pgtune proposes no drop until every node is read.", strings.Join(unread, ", "), replicaErrors(snap))
		case len(lagging) > 0:
			unknown = fmt.Sprintf("Whether it is unused is unknown: %s does not have it yet (its replay lags behind the index's creation), "+
				"so its queries cannot have used it, and nobody can tell whether they will. pgtune proposes no drop until every node has counted it.",
				strings.Join(lagging, ", "))
		case len(snap.Replicas) == 0 && snap.StreamingReplicas > 0:
			unknown = fmt.Sprintf("Whether it is unused is unknown: %d replica(s) stream from this server, and their read "+
				"queries never reach its counters. Pass each one's DSN with --replica-dsn; pgtune proposes no drop until then.", snap.StreamingReplicas)
		}
		if unknown != "" {
			out = append(out, finding.Finding{
				Rule: "audit.index.unused", Kind: finding.KindIndex, Table: t.Key(), Severity: finding.SeverityInfo,
				Title:    fmt.Sprintf("%s was not scanned on the primary; on the replicas: unknown", ix.Name),
				Detail:   detail + " " + unknown,
				Evidence: append(evidence, finding.Fact{Name: "unused", Value: "unknown"}),
				Index:    spec(ix),
				Impact:   share(ix.SizeBytes, dbBytes),
			})
			continue
		}
		switch {
		case age < 0:
			detail += " How long the counters have been counting is unknown (pg_stat_database.stats_reset is empty: " +
				"they were never reset, so they date from the cluster's creation, or a restore): pgtune does not call it " +
				"unused on that. Run SELECT pg_stat_reset() (counters of this database only) and look again in a week."
		case age < UnusedMinAge:
			detail += " The statistics are younger than a week: too early to be sure."
		}
		for _, fk := range fks {
			if len(ix.Keys) > 0 && len(fk.Columns) > 0 && ix.Keys[0].Column == fk.Columns[0] {
				sev = min(sev, finding.SeverityLow)
				evidence = append(evidence, finding.Fact{Name: "foreign_key", Value: fk.Name})
				detail += fmt.Sprintf(" It also serves foreign key %s: deleting or updating rows of %s looks up %s through it; "+
					"keep it if such deletes happen.", fk.Name, fk.References, fk.Columns[0])
				break
			}
		}
		out = append(out, finding.Finding{
			Rule: "audit.index.unused", Kind: finding.KindIndex, Table: t.Key(), Severity: sev,
			Title:    fmt.Sprintf("%s has not been used %s", ix.Name, shortSince(since)),
			Detail:   detail,
			Evidence: evidence,
			Index:    spec(ix),
			Impact:   share(ix.SizeBytes, dbBytes),
			SQL:      dropSQL(ix),
			Action:   "to undo: " + concurrently(ix.Definition) + ";",
		})
	}
	slices.SortFunc(out, func(a, b finding.Finding) int { return cmp.Compare(a.Title, b.Title) })
	return out
}

// unreadReplicas names the replicas that could not be read.
func unreadReplicas(snap *dbstate.Snapshot) []string {
	var out []string
	for _, r := range snap.Replicas {
		if r.Error != "" {
			out = append(out, r.Name)
		}
	}
	return out
}

func replicaErrors(snap *dbstate.Snapshot) string {
	var out []string
	for _, r := range snap.Replicas {
		if r.Error != "" {
			out = append(out, r.Name+": "+r.Error)
		}
	}
	return strings.Join(out, "; ")
}

// nodeNames are the nodes read: the primary, then each replica read.
func nodeNames(snap *dbstate.Snapshot) []string {
	out := []string{"primary"}
	for _, r := range snap.Replicas {
		if r.Error == "" {
			out = append(out, r.Name)
		}
	}
	return out
}

func shortSince(since string) string {
	if i := strings.Index(since, " ("); i >= 0 {
		return since[:i]
	}
	return since
}
