package indexes

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/workload"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Tuning of candidate generation. Named so the documentation and tests can cite them.
const (
	// RareShare: a constant condition (status = 'pending') makes a partial index when the rows it
	// selects are at most this share of the table, per pg_stats.
	RareShare = 0.2
	// MaxInclude is how many columns a covering (INCLUDE) candidate may add.
	MaxInclude = 3
	// MaxIndexColumns is INDEX_MAX_KEYS, PostgreSQL's (compiled-in) limit on an index's columns.
	MaxIndexColumns = 32
	// BRINMinPages and BRINMinCorrelation: a BRIN candidate needs a large table (1 GiB of 8 kB
	// pages) whose physical order follows the column.
	BRINMinPages       = 131072
	BRINMinCorrelation = 0.9
	// MinRows: tables with fewer rows (per the planner's estimate) are read whole faster than
	// through any index; they get no candidates.
	MinRows = 1000
)

// Generate proposes candidate indexes for the workload's statements, deduplicated across
// statements, minus those an existing valid index already provides.
func Generate(w *workload.Workload, cat *dbstate.Catalog) []*Candidate {
	g := &generator{cat: cat, bySig: map[string]*Candidate{}}
	for _, ws := range w.Statements {
		if ws.Model == nil || ws.System || ws.Model.Kind == workload.KindUtility || ws.Model.Kind == workload.KindInsert {
			continue
		}
		for _, st := range ws.Models() {
			for _, table := range st.TableKeys() {
				t := cat.Table(table)
				if t == nil {
					continue // not in the catalog (a temporary table): nothing to index
				}
				if t.RowEstimate >= 0 && t.RowEstimate < MinRows && t.Stats != nil {
					continue
				}
				g.forTable(ws, st, t)
			}
		}
	}
	out := make([]*Candidate, 0, len(g.order))
	for _, sig := range g.order {
		c := g.bySig[sig]
		if !g.existing(c) {
			out = append(out, c)
		}
	}
	return out
}

type generator struct {
	cat   *dbstate.Catalog
	bySig map[string]*Candidate
	order []string
}

// add records a candidate (or adds the statement to an identical one).
func (g *generator) add(ws *workload.Entry, c *Candidate) {
	if len(c.Keys) == 0 {
		return
	}
	if c.Method == "" {
		c.Method = "btree"
	}
	// PostgreSQL's INDEX_MAX_KEYS: an index holds at most 32 columns, keys and INCLUDE together
	// (HypoPG refuses more). The leading keys are the selective ones; the rest would only filter.
	if len(c.Keys) > MaxIndexColumns {
		c.Keys = slices.Clone(c.Keys[:MaxIndexColumns])
	}
	if len(c.Keys)+len(c.Include) > MaxIndexColumns {
		c.Include = slices.Clone(c.Include[:MaxIndexColumns-len(c.Keys)])
	}
	c.Name = nameFor(c.Table, c)
	sig := c.Signature()
	if prev, ok := g.bySig[sig]; ok {
		if !slices.Contains(prev.Serves, ws.Fingerprint) {
			prev.Serves = append(prev.Serves, ws.Fingerprint)
		}
		return
	}
	c.Serves = []string{ws.Fingerprint}
	g.bySig[sig] = c
	g.order = append(g.order, sig)
}

// access is how one statement reaches one table.
type access struct {
	eq       []string             // columns fixed by equality or IN with a run-time value
	multi    map[string]bool      // of those, the ones an IN list or = ANY gives several values
	nullable map[string]bool      // columns an IS NULL too common for a partial index makes keys
	constEq  []workload.Predicate // columns fixed to constants (status = 'pending')
	ranges   []string             // columns bounded by ranges, BETWEEN or a LIKE prefix
	exprs    []workload.Predicate // wrapped columns an immutable expression index can serve
	joins    []string             // columns joined to another table
	order    []dbstate.IndexKey   // ORDER BY, when every key is a plain column of this table
	patterns []workload.Predicate // leading-wildcard LIKE and ILIKE
	read     map[string]bool      // every column the statement reads from the table
	star     bool                 // SELECT *
}

func (g *generator) collect(st *workload.Statement, t *dbstate.Table) *access {
	a := &access{read: map[string]bool{}, multi: map[string]bool{}, nullable: map[string]bool{}}
	key := t.Key()
	for _, p := range st.Predicates {
		if p.Column.Table != key {
			continue
		}
		a.read[p.Column.Column] = true
		if p.OrGroup != 0 || p.Negated || p.Clause == "having" {
			continue
		}
		if p.Wrapper != nil {
			if immutableExpr(p, t) != "" && (p.Op == workload.OpEq || p.Op == workload.OpIn || p.Op == workload.OpRange || p.Op == workload.OpBetween) {
				a.exprs = append(a.exprs, p)
			}
			continue
		}
		switch p.Op {
		case workload.OpEq, workload.OpIn:
			if p.Value != nil && p.Value.Kind == workload.OperandColumn && p.Value.Column != nil && p.Value.Column.Table == key {
				continue // a = b within one table: no index helps
			}
			if p.Value != nil && len(p.Value.Params) == 0 && len(p.Value.Consts) > 0 && p.Value.Kind != workload.OperandExpr {
				a.constEq = append(a.constEq, p)
			} else {
				a.eq = appendOnce(a.eq, p.Column.Column)
				if p.Op == workload.OpIn && p.Value != nil && (p.Value.Kind == workload.OperandParam || len(p.Value.Params)+len(p.Value.Consts) > 1) {
					a.multi[p.Column.Column] = true
				}
			}
		case workload.OpRange, workload.OpBetween:
			a.ranges = appendOnce(a.ranges, p.Column.Column)
		case workload.OpLikePrefix:
			if !p.CaseInsensitive {
				a.ranges = appendOnce(a.ranges, p.Column.Column)
			} else {
				a.patterns = append(a.patterns, p)
			}
		case workload.OpLikeWildcard, workload.OpLikeParam:
			// A pattern bound at run time may start with a wildcard (an ORM's contains()), which
			// only a trigram index serves, whatever its case sensitivity.
			a.patterns = append(a.patterns, p)
		case workload.OpIsNull:
			a.constEq = append(a.constEq, p)
		}
	}
	for _, j := range st.Joins {
		for _, c := range []workload.ColumnRef{j.Left, j.Right} {
			if c.Table == key {
				a.joins = appendOnce(a.joins, c.Column)
				a.read[c.Column] = true
			}
		}
	}
	ordered := len(st.OrderBy) > 0
	for _, k := range st.OrderBy {
		if k.Column == nil || k.Column.Table != key {
			ordered = false
			break
		}
		a.order = append(a.order, dbstate.IndexKey{Column: k.Column.Column, Desc: k.Desc, NullsFirst: nullsFirst(k)})
		a.read[k.Column.Column] = true
	}
	if !ordered {
		a.order = nil
	}
	for _, c := range st.Selected {
		if c.Table == key {
			a.read[c.Column] = true
		}
	}
	for _, c := range st.SetColumns {
		if c.Table == key {
			a.read[c.Column] = true
		}
	}
	a.star = st.SelectStar
	return a
}

func nullsFirst(k workload.SortKey) bool {
	if k.NullsFirst != nil {
		return *k.NullsFirst
	}
	return k.Desc // PostgreSQL's default: NULLS FIRST for DESC
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// forTable proposes the candidates of one statement on one table: B-tree shapes over its
// equality, range and sort columns (btrees), the inner side of its joins (joinCandidates),
// expressions (exprCandidates), a covering variant (covering), trigram GIN for patterns and
// BRIN for ranges on a column that follows the table's physical order.
func (g *generator) forTable(ws *workload.Entry, st *workload.Statement, t *dbstate.Table) {
	sh, ok := g.shapeOf(st, t)
	if !ok {
		return // a unique index already finds the one row
	}
	var built []*Candidate
	for _, c := range slices.Concat(g.btrees(sh), g.joinCandidates(sh), g.exprCandidates(sh)) {
		if len(c.Keys) > 0 {
			built = append(built, c)
		}
	}
	if c := g.covering(sh, built); c != nil {
		built = append(built, c)
	}
	for _, c := range built {
		c.Why = slices.DeleteFunc(c.Why, func(s string) bool { return s == "" })
		g.add(ws, c)
	}
	// Trigram GIN for patterns no B-tree serves.
	if g.trigramAvailable() {
		for _, p := range sh.a.patterns {
			c := &Candidate{Table: sh.key, Method: "gin", Keys: []dbstate.IndexKey{{Column: p.Column.Column, Opclass: "gin_trgm_ops"}},
				Why: []string{fmt.Sprintf("%s pattern on %s", likeWord(p), p.Column.Column)}, Estimated: true, Needs: "pg_trgm"}
			g.add(ws, c)
		}
	}
	// BRIN for a large table read by ranges on a column that follows its physical order.
	if t.Pages >= BRINMinPages && t.Stats != nil && t.Stats.Updates+t.Stats.Deletes < t.Stats.Inserts/10 {
		for _, r := range sh.a.ranges {
			if cs := g.cat.ColumnStat(sh.key, r); cs != nil && cs.Correlation != nil && (*cs.Correlation >= BRINMinCorrelation || *cs.Correlation <= -BRINMinCorrelation) {
				c := &Candidate{Table: sh.key, Method: "brin", Keys: []dbstate.IndexKey{{Column: r}},
					Why: []string{fmt.Sprintf("range on %s, correlation %.2f with the table's physical order", r, *cs.Correlation)}}
				g.add(ws, c)
			}
		}
	}
}

// shape is how one statement reaches one table, as the candidates are built from it: the
// equality columns (most selective first), the partial-index predicate of its rare constants,
// the range column chosen and the sort.
type shape struct {
	a        *access
	t        *dbstate.Table
	key      string
	eq       []string
	eqWhy    string
	whereSQL string
	whereWhy []string
	narrowed string          // why eq was cut to its leading column, if it was
	inWhere  map[string]bool // columns the partial predicate fixes
	rng      string
}

// shapeOf reads the statement's conditions on t into a shape; ok is false when a unique index
// already finds the one row the equality columns select.
func (g *generator) shapeOf(st *workload.Statement, t *dbstate.Table) (*shape, bool) {
	a := g.collect(st, t)
	sh := &shape{a: a, t: t, key: t.Key(), inWhere: map[string]bool{}}
	// Constant conditions: a partial index when the constants select few rows, else a key column.
	var where []string
	eq := slices.Clone(a.eq)
	for _, p := range a.constEq {
		share, known := g.constShare(t, p)
		switch {
		case known && share == 0:
			continue // the data holds no such row (now): never index a value the data does not contain
		case known && share <= RareShare:
			where = append(where, predicateSQL(p))
			sh.whereWhy = append(sh.whereWhy, fmt.Sprintf("%s selects %.1f%% of rows (pg_stats)", predicateSQL(p), 100*share))
		default:
			// Too common for a partial index (or unknown): a key column. A B-tree finds IS NULL
			// as it finds a value, so IS NULL is an equality here; a common one may also be
			// left to a filter (1d in btrees).
			eq = appendOnce(eq, p.Column.Column)
			if p.Op == workload.OpIsNull {
				a.nullable[p.Column.Column] = true
			}
		}
	}
	g.sortBySelectivity(t, eq)
	sh.whereSQL = strings.Join(where, " AND ")
	if g.uniqueCovered(t, eq) {
		return nil, false
	}
	if len(eq) > 1 && g.allDistinct(t, eq[0]) {
		// Equality on a column whose every value is distinct finds one row: the other equality
		// columns would make the index bigger (30 % on a typical pair), not faster.
		sh.narrowed = fmt.Sprintf("%s is distinct in every row (pg_stats), so %s would only add size", eq[0], strings.Join(eq[1:], ", "))
		eq = eq[:1]
	}
	sh.eq = eq
	for _, p := range a.constEq {
		if strings.Contains(sh.whereSQL, predicateSQL(p)) {
			sh.inWhere[p.Column.Column] = true
		}
	}
	if len(eq) > 0 {
		sh.eqWhy = "equality on " + strings.Join(eq, ", ")
	}
	// Range: prefer the column the statement also sorts on, then the most selective.
	if len(a.ranges) > 0 {
		sh.rng = a.ranges[0]
		for _, r := range a.ranges {
			if len(a.order) > 0 && a.order[0].Column == r {
				sh.rng = r
				break
			}
		}
		if !(len(a.order) > 0 && a.order[0].Column == sh.rng) {
			rs := slices.Clone(a.ranges)
			g.sortBySelectivity(t, rs)
			sh.rng = rs[0]
		}
	}
	return sh, true
}

// base is a candidate on the shape's table with its partial predicate and the reasons given.
func (sh *shape) base(why ...string) *Candidate {
	c := &Candidate{Table: sh.key, Where: sh.whereSQL}
	c.Why = append(append(c.Why, why...), sh.whereWhy...)
	if sh.narrowed != "" {
		c.Why = append(c.Why, sh.narrowed)
	}
	return c
}

// eqKeys are the equality columns as index keys.
func (sh *shape) eqKeys() []dbstate.IndexKey {
	ks := make([]dbstate.IndexKey, 0, len(sh.eq))
	for _, c := range sh.eq {
		ks = append(ks, dbstate.IndexKey{Column: c})
	}
	return ks
}

// btrees are the B-tree shapes over the equality, range and sort columns.
func (g *generator) btrees(sh *shape) []*Candidate {
	a, eq, rng, eqWhy := sh.a, sh.eq, sh.rng, sh.eqWhy
	if !(len(eq) > 0 || rng != "" || len(a.order) > 0 || sh.whereSQL != "") {
		return nil
	}
	var out []*Candidate
	// 1. equality columns, then the range column, then the ORDER BY (when the sort follows
	//    the range column, or there is no range).
	keys := sh.eqKeys()
	why := []string{}
	if eqWhy != "" {
		why = append(why, eqWhy)
	}
	orderFollows := len(a.order) > 0 && (rng == "" || a.order[0].Column == rng)
	if orderFollows {
		for _, o := range a.order {
			if !slices.ContainsFunc(keys, func(k dbstate.IndexKey) bool { return k.Column == o.Column }) {
				keys = append(keys, o)
			}
		}
		why = append(why, "ORDER BY "+sortText(a.order))
		if rng != "" {
			why = append(why, "range on "+rng)
		}
	} else if rng != "" {
		keys = append(keys, dbstate.IndexKey{Column: rng})
		why = append(why, "range on "+rng)
	}
	c := sh.base(why...)
	c.Keys = keys
	if len(c.Keys) == 0 && sh.whereSQL != "" && len(a.joins) > 0 {
		c.Keys = []dbstate.IndexKey{{Column: a.joins[0]}}
		c.Why = append(c.Why, "join on "+a.joins[0])
	}
	out = append(out, c)
	// 1b. equality columns alone, when the full one added more.
	if len(eq) > 0 && len(keys) > len(eq) {
		e := sh.base(eqWhy)
		e.Keys = sh.eqKeys()
		out = append(out, e)
	}
	// 1c. the sort alone after the equality columns, when the range column was not the sort's.
	if len(a.order) > 0 && !orderFollows {
		o := sh.base(eqWhy, "ORDER BY "+sortText(a.order))
		o.Keys = append(sh.eqKeys(), a.order...)
		out = append(out, o)
	}
	// 1d. without the columns an IN list gives several values (status IN ($4, $5), bound
	//    by the application, so no partial index can hold it): in front of the sort or the
	//    range they split the index into one run per value, which the sort cannot follow and
	//    the range must scan once each. The single-valued equality columns, then the sort (or
	//    the range), with the IN list checked on the rows found.
	//    A common IS NULL is left to a filter the same way.
	if single := slices.DeleteFunc(slices.Clone(eq), func(c string) bool { return a.multi[c] || a.nullable[c] }); len(single) < len(eq) && (len(a.order) > 0 || rng != "") {
		var ks []dbstate.IndexKey
		for _, c := range single {
			ks = append(ks, dbstate.IndexKey{Column: c})
		}
		why := []string{}
		if len(single) > 0 {
			why = append(why, "equality on "+strings.Join(single, ", "))
		}
		multi := slices.DeleteFunc(slices.Clone(eq), func(c string) bool { return !a.multi[c] })
		nulls := slices.DeleteFunc(slices.Clone(eq), func(c string) bool { return !a.nullable[c] })
		if orderFollows {
			for _, o := range a.order {
				if !slices.ContainsFunc(ks, func(k dbstate.IndexKey) bool { return k.Column == o.Column }) {
					ks = append(ks, o)
				}
			}
			why = append(why, "ORDER BY "+sortText(a.order))
		} else {
			ks = append(ks, dbstate.IndexKey{Column: rng})
			why = append(why, "range on "+rng)
		}
		if len(multi) > 0 {
			why = append(why, "the IN list on "+strings.Join(multi, ", ")+" checked on the rows found (several values would split the index's order)")
		}
		if len(nulls) > 0 {
			why = append(why, strings.Join(nulls, ", ")+" IS NULL checked on the rows found")
		}
		m := sh.base(why...)
		m.Keys = ks
		out = append(out, m)
	}
	return out
}

// joinCandidates: the inner side of a nested loop probes the join columns, together with the
// statement's other equality conditions on the table. A table the statement restricts by
// run-time values drives the join (it is the outer side), so its join columns are not probed:
// only a table without such conditions gets join candidates.
func (g *generator) joinCandidates(sh *shape) []*Candidate {
	var out []*Candidate
	for _, j := range sh.a.joins {
		if len(sh.a.eq) > 0 || slices.Contains(sh.eq, j) || g.isPrimaryKeyColumn(sh.t, j) {
			continue
		}
		cols := append([]string{j}, sh.eq...)
		if g.uniqueCovered(sh.t, cols) {
			continue
		}
		c := sh.base("join on " + j)
		if sh.eqWhy != "" {
			c.Why = append(c.Why, sh.eqWhy)
		}
		for _, col := range cols {
			c.Keys = append(c.Keys, dbstate.IndexKey{Column: col})
		}
		out = append(out, c)
	}
	return out
}

// exprCandidates are expression indexes for wrapped columns.
func (g *generator) exprCandidates(sh *shape) []*Candidate {
	var out []*Candidate
	for _, p := range sh.a.exprs {
		c := sh.base("condition on " + p.Wrapper.Expr)
		c.Keys = append(sh.eqKeys(), dbstate.IndexKey{Expr: immutableExpr(p, sh.t)})
		if sh.eqWhy != "" {
			c.Why = append([]string{sh.eqWhy}, c.Why...)
		}
		out = append(out, c)
	}
	return out
}

// covering is the first candidate with the columns the statement reads besides its keys as
// INCLUDE, when a narrow statement could be answered from the index alone; nil otherwise.
func (g *generator) covering(sh *shape, built []*Candidate) *Candidate {
	if sh.a.star || len(built) == 0 {
		return nil
	}
	best := built[0]
	var extra []string
	for col := range sh.a.read {
		if !sh.inWhere[col] && !slices.ContainsFunc(best.Keys, func(k dbstate.IndexKey) bool { return k.Column == col }) {
			extra = append(extra, col)
		}
	}
	slices.Sort(extra)
	if len(extra) == 0 || len(extra) > MaxInclude || best.Method != "btree" || g.wide(sh.t, extra) {
		return nil
	}
	c := sh.base(append(slices.Clone(best.Why), "INCLUDE "+strings.Join(extra, ", ")+" for an index-only scan")...)
	c.Keys, c.Include, c.Where = slices.Clone(best.Keys), extra, best.Where
	c.Why = slices.Compact(c.Why)
	return c
}

func likeWord(p workload.Predicate) string {
	if p.CaseInsensitive {
		return "ILIKE"
	}
	return "leading-wildcard LIKE"
}

func sortText(keys []dbstate.IndexKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Column
		if k.Desc {
			parts[i] += " DESC"
		}
	}
	return strings.Join(parts, ", ")
}

// predicateSQL renders a constant condition for a partial index's WHERE.
func predicateSQL(p workload.Predicate) string {
	col := quote.Ident(p.Column.Column)
	switch p.Op {
	case workload.OpIsNull:
		return col + " IS NULL"
	case workload.OpIn:
		vals := make([]string, len(p.Value.Consts))
		for i, v := range p.Value.Consts {
			vals[i] = literal(v)
		}
		return col + " IN (" + strings.Join(vals, ", ") + ")"
	}
	return col + " = " + literal(p.Value.Consts[0])
}

// literal quotes a constant unless it is a number or a boolean.
func literal(v string) string {
	if v == "true" || v == "false" {
		return v
	}
	if _, err := fmt.Sscanf(v, "%g", new(float64)); err == nil && !strings.ContainsAny(v, " '") {
		return v
	}
	return quote.Literal(v)
}

// constShare estimates the share of rows a constant condition selects, from pg_stats' most
// common values and null fraction. known is false when the statistics cannot say.
func (g *generator) constShare(t *dbstate.Table, p workload.Predicate) (share float64, known bool) {
	cs := g.cat.ColumnStat(t.Key(), p.Column.Column)
	if cs == nil {
		return 0, false
	}
	if p.Op == workload.OpIsNull {
		return cs.NullFrac, true
	}
	if len(cs.MostCommonVals) == 0 || len(cs.MostCommonVals) != len(cs.MostCommonFreqs) {
		return 0, false
	}
	mcvTotal := 0.0
	for _, f := range cs.MostCommonFreqs {
		mcvTotal += f
	}
	for _, v := range p.Value.Consts {
		if i := slices.Index(cs.MostCommonVals, v); i >= 0 {
			share += cs.MostCommonFreqs[i]
			continue
		}
		// Not among the common values: if those cover every row, the value does not occur;
		// otherwise it is at most as frequent as the rarest common value.
		if mcvTotal+cs.NullFrac >= 0.999 {
			continue
		}
		share += cs.MostCommonFreqs[len(cs.MostCommonFreqs)-1]
	}
	return share, true
}

// distinct estimates a column's number of distinct values (0 when unknown).
func (g *generator) distinct(t *dbstate.Table, col string) float64 {
	cs := g.cat.ColumnStat(t.Key(), col)
	if cs == nil {
		if g.isPrimaryKeyColumn(t, col) {
			return max(t.RowEstimate, 1)
		}
		return 0
	}
	if cs.NDistinct < 0 {
		return -cs.NDistinct * max(t.RowEstimate, 1)
	}
	return cs.NDistinct
}

// allDistinct: ANALYZE found every value of the column distinct (n_distinct = -1), or it is the
// single-column primary key.
func (g *generator) allDistinct(t *dbstate.Table, col string) bool {
	if g.isPrimaryKeyColumn(t, col) {
		return true
	}
	cs := g.cat.ColumnStat(t.Key(), col)
	return cs != nil && cs.NDistinct == -1
}

// sortBySelectivity orders columns most selective (most distinct values) first, keeping the
// statement's order between columns the statistics cannot tell apart.
func (g *generator) sortBySelectivity(t *dbstate.Table, cols []string) {
	slices.SortStableFunc(cols, func(a, b string) int { return cmp.Compare(g.distinct(t, b), g.distinct(t, a)) })
}

// uniqueCovered reports whether a valid unique index (without predicate) has only columns
// among cols: equality on them finds at most one row already.
func (g *generator) uniqueCovered(t *dbstate.Table, cols []string) bool {
	for _, ix := range g.cat.Indexes(t.Key()) {
		if !ix.Unique || !ix.Valid || ix.Predicate != "" || len(ix.Keys) == 0 {
			continue
		}
		all := true
		for _, k := range ix.Keys {
			all = all && k.Column != "" && slices.Contains(cols, k.Column)
		}
		if all {
			return true
		}
	}
	return false
}

func (g *generator) isPrimaryKeyColumn(t *dbstate.Table, col string) bool {
	for _, c := range g.cat.Constraints(t.Key()) {
		if c.Type == "primary_key" && len(c.Columns) == 1 && c.Columns[0] == col {
			return true
		}
	}
	return false
}

// wide reports whether INCLUDE columns would make the index fat (wide text, JSON).
func (g *generator) wide(t *dbstate.Table, cols []string) bool {
	width := 0
	for _, c := range cols {
		if cs := g.cat.ColumnStat(t.Key(), c); cs != nil {
			width += cs.AvgWidth
		} else if col := t.Column(c); col != nil && (col.Type == "text" || strings.HasPrefix(col.Type, "json")) {
			width += 64
		} else {
			width += 8
		}
	}
	return width > 96
}

// trigramAvailable: pg_trgm is installed, or its package is on the server (CREATE EXTENSION
// then goes in front of the index).
func (g *generator) trigramAvailable() bool {
	snap := g.cat.Snapshot()
	return snap.Extension("pg_trgm") != nil || slices.Contains(snap.AvailableExtensions, "pg_trgm")
}

// existing reports whether a valid existing index already provides c: same method and
// predicate, keys that start with c's keys, and every INCLUDE column of c among its columns.
func (g *generator) existing(c *Candidate) bool {
	for _, ix := range g.cat.Indexes(c.Table) {
		if !ix.Valid || ix.Method != c.Method || ix.Predicate != c.Where && !(c.Where != "" && samePredicate(ix.Predicate, c.Where)) {
			continue
		}
		if len(ix.Keys) < len(c.Keys) || !slices.EqualFunc(ix.Keys[:len(c.Keys)], c.Keys, sameKey) {
			continue
		}
		covered := true
		for _, inc := range c.Include {
			found := slices.Contains(ix.Include, inc) || slices.ContainsFunc(ix.Keys, func(k dbstate.IndexKey) bool { return k.Column == inc })
			covered = covered && found
		}
		if covered {
			return true
		}
	}
	return false
}

// sameKey compares keys, treating a key's direction pair (DESC NULLS FIRST and ASC NULLS
// LAST) as equal to its mirror only when both are plain B-tree defaults.
func sameKey(a, b dbstate.IndexKey) bool {
	return a.Column == b.Column && a.Expr == b.Expr && a.Opclass == b.Opclass && a.Collation == b.Collation &&
		a.Desc == b.Desc && a.NullsFirst == b.NullsFirst
}

// samePredicate compares a catalog predicate ("(status = 'pending'::text)") with a candidate's
// ("status = 'pending'") loosely: the same words once casts and parentheses are removed.
func samePredicate(catalog, candidate string) bool {
	norm := func(s string) string {
		s = strings.NewReplacer("::text", "", "(", "", ")", "", " ", "").Replace(s)
		return strings.ToLower(s)
	}
	return norm(catalog) == norm(candidate)
}

// immutableExpr returns the index expression for a wrapped column when PostgreSQL would accept
// it in an index (only immutable functions), "" otherwise. date(timestamptz) and casts of
// timestamptz depend on the session's time zone, so they are refused.
func immutableExpr(p workload.Predicate, t *dbstate.Table) string {
	wr := p.Wrapper
	if wr == nil || len(wr.OtherColumns) > 0 {
		return ""
	}
	colType := ""
	if c := t.Column(p.Column.Column); c != nil {
		colType = c.Type
	}
	col := quote.Ident(p.Column.Column)
	tz := colType == "timestamp with time zone"
	switch wr.Kind {
	case workload.WrapFunction:
		switch wr.Name {
		case "lower", "upper", "md5", "reverse", "btrim", "abs":
			return wr.Name + "(" + col + ")"
		case "date":
			if strings.HasPrefix(colType, "timestamp") && !tz {
				return "date(" + col + ")"
			}
		}
	case workload.WrapCast:
		if wr.Name == "date" && strings.HasPrefix(colType, "timestamp") && !tz {
			return "(" + col + ")::date"
		}
	}
	return ""
}
