package indexes

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/workload"
)

// Estimator prices statements from a snapshot's statistics with a small model of PostgreSQL's
// planner, for where HypoPG is missing (hosted services without it, offline snapshots). It
// follows the planner's default cost constants and its default selectivities for generic plans
// (1/n_distinct for equality with a parameter, 1/3 for an open range, 0.005 for a closed one),
// and pg_stats' common values for literal constants. Its costs are estimates: findings built on
// them say so.
type Estimator struct {
	cat   *dbstate.Catalog
	byFP  map[string]*workload.Entry
	cache map[string]Plan
	// Estimates counts the statements priced (cache misses).
	Estimates int
}

// The planner's default cost constants.
const (
	seqPageCost       = 1.0
	randomPageCost    = 4.0
	cpuTupleCost      = 0.01
	cpuIndexTupleCost = 0.005
	cpuOperatorCost   = 0.0025
	defaultEqSel      = 0.005 // DEFAULT_EQ_SEL
	defaultIneqSel    = 1.0 / 3
	defaultRangeSel   = 0.005 // DEFAULT_RANGE_INEQ_SEL
	defaultMatchSel   = 0.005
	defaultLimit      = 10 // a LIMIT given as a parameter
)

// NewEstimator prices the workload's statements against the catalog.
func NewEstimator(w *workload.Workload, cat *dbstate.Catalog) *Estimator {
	e := &Estimator{cat: cat, byFP: map[string]*workload.Entry{}, cache: map[string]Plan{}}
	for _, ws := range w.Statements {
		e.byFP[ws.Fingerprint] = ws
	}
	return e
}

// Size estimates an index's size: one entry (header, line pointer, key and INCLUDE widths from
// pg_stats) per row it covers, pages 90 % full.
func (e *Estimator) Size(_ context.Context, c *Candidate) (float64, error) {
	t := e.cat.Table(c.Table)
	if t == nil {
		return 8192, nil
	}
	width := 8.0 + 4.0
	for _, col := range indexColumns(c)[:len(c.Keys)+len(c.Include)] {
		width += e.width(t, col)
	}
	if c.Method == "gin" {
		// A trigram index holds about one posting per trigram of the value: a few times the
		// column's width per row, compressed.
		width = 3 * e.width(t, indexColumns(c)[0])
	}
	width = math.Ceil(width/8) * 8
	rows := max(t.RowEstimate, 1) * e.predicateShare(t, c.Where)
	pages := math.Ceil(rows*width/(8192*0.9)) + 1
	return pages * 8192, nil
}

func (e *Estimator) width(t *dbstate.Table, col string) float64 {
	if cs := e.cat.ColumnStat(t.Key(), col); cs != nil && cs.AvgWidth > 0 {
		return float64(cs.AvgWidth)
	}
	if c := t.Column(col); c != nil && (c.Type == "text" || strings.HasPrefix(c.Type, "character")) {
		return 16
	}
	return 8
}

// Cost prices a statement's model (the fingerprint may name a sampled variant: "fp/1").
func (e *Estimator) Cost(_ context.Context, config []*Candidate, hide []string, fingerprint, _ string, _ [][]string, tables []string) (Plan, error) {
	key := fingerprint + "#" + configKey(config, hide, tables)
	if p, ok := e.cache[key]; ok {
		return p, nil
	}
	fp, variant := fingerprint, 0
	if i := strings.LastIndexByte(fingerprint, '/'); i >= 0 {
		fp = fingerprint[:i]
		variant, _ = strconv.Atoi(fingerprint[i+1:])
	}
	ws := e.byFP[fp]
	if ws == nil || ws.Model == nil {
		return Plan{}, fmt.Errorf("statement %s is not in the workload", fp)
	}
	models := ws.Models()
	st := models[min(variant, len(models)-1)]
	p := Plan{}
	rows := map[string]float64{}
	// Tables without a join probe first (they drive), then the probed ones.
	order := slices.Clone(st.TableKeys())
	slices.SortStableFunc(order, func(a, b string) int { return boolInt(e.probed(st, a)) - boolInt(e.probed(st, b)) })
	for _, table := range order {
		t := e.cat.Table(table)
		if t == nil {
			continue
		}
		cost, n, used := e.tableCost(st, t, config, hide, rows)
		p.Cost += cost
		rows[table] = n
		if used != "" && !slices.Contains(p.Indexes, used) {
			p.Indexes = append(p.Indexes, used)
		}
	}
	e.Estimates++
	e.cache[key] = p
	return p, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// probed reports whether a table is reached through a join from another table of the statement.
func (e *Estimator) probed(st *workload.Statement, table string) bool {
	for _, j := range st.Joins {
		if j.Left.Table == table && j.Right.Table != table || j.Right.Table == table && j.Left.Table != table {
			return !hasParamEq(st, table)
		}
	}
	return false
}

func hasParamEq(st *workload.Statement, table string) bool {
	for _, p := range st.Predicates {
		if p.Column.Table == table && p.OrGroup == 0 && !p.Negated && p.Wrapper == nil && (p.Op == workload.OpEq || p.Op == workload.OpIn) {
			return true
		}
	}
	return false
}

// access is one usable index on the table.
type indexChoice struct {
	name    string
	keys    []dbstate.IndexKey
	include []string
	where   string
	pages   float64
}

// tableCost prices reaching one table: a sequential scan, or the cheapest index, the way the
// planner would weigh them. rows holds the rows already found in the tables that drive this one.
func (e *Estimator) tableCost(st *workload.Statement, t *dbstate.Table, config []*Candidate, hide []string, rows map[string]float64) (cost, found float64, used string) {
	key := t.Key()
	n := max(t.RowEstimate, 1)
	pages := float64(max(t.Pages, 1))
	var preds []workload.Predicate
	for _, p := range st.Predicates {
		if p.Column.Table == key && p.OrGroup == 0 && p.Clause != "having" {
			preds = append(preds, p)
		}
	}
	sel := 1.0
	for i, p := range preds {
		sel *= e.selectivity(t, p, preds[:i])
	}
	// Joins from a driving table make this one probed once per driving row.
	loops := 1.0
	var joinCols []string
	for _, j := range st.Joins {
		for _, pair := range [][2]workload.ColumnRef{{j.Left, j.Right}, {j.Right, j.Left}} {
			if pair[0].Table == key && pair[1].Table != key {
				if r, ok := rows[pair[1].Table]; ok {
					loops = max(loops, r)
					joinCols = append(joinCols, pair[0].Column)
				}
			}
		}
	}
	found = n * sel
	limit := 0.0
	if st.Limit != nil {
		limit = defaultLimit
		if st.Limit.Known() {
			limit = float64(st.Limit.Value)
		}
	}
	ordered := len(st.OrderBy) > 0
	for _, k := range st.OrderBy {
		if k.Column == nil || k.Column.Table != key {
			ordered = false
		}
	}
	sortCost := 0.0
	if ordered && found > 1 {
		sortCost = 2 * cpuOperatorCost * found * math.Log2(found)
	}
	// A sequential scan (a hash join probes nothing: it reads the table once).
	seq := pages*seqPageCost + n*cpuTupleCost + n*cpuOperatorCost*float64(len(preds))
	best := seq + sortCost
	if limit > 0 && !ordered && found > limit {
		best = seq * limit / found
	}
	for _, ix := range e.indexesOn(t, config, hide) {
		c, ok := e.indexCost(st, t, ix, preds, joinCols, loops, found, limit, ordered)
		if ok && c < best {
			best, used = c, ix.name
		}
	}
	if limit > 0 {
		found = min(found, limit)
	}
	return best, found, used
}

// indexesOn lists the B-tree indexes the planner could use on t: the valid existing ones (minus
// hidden) and the configured candidates.
func (e *Estimator) indexesOn(t *dbstate.Table, config []*Candidate, hide []string) []indexChoice {
	var out []indexChoice
	for _, ix := range e.cat.Indexes(t.Key()) {
		if !ix.Valid || ix.Method != "btree" || slices.Contains(hide, ix.Key()) {
			continue
		}
		out = append(out, indexChoice{name: ix.Name, keys: ix.Keys, include: ix.Include, where: ix.Predicate, pages: math.Max(float64(ix.SizeBytes)/8192, 1)})
	}
	for _, c := range config {
		if c.Table != t.Key() || c.Method != "btree" && !trigram(c) {
			continue
		}
		size, _ := e.Size(context.Background(), c)
		out = append(out, indexChoice{name: c.Signature(), keys: c.Keys, include: c.Include, where: c.Where, pages: size / 8192})
	}
	return out
}

func trigram(c *Candidate) bool {
	return c.Method == "gin" && len(c.Keys) == 1 && strings.Contains(c.Keys[0].Opclass, "trgm")
}

// indexCost prices reaching t through one index, or reports that the index cannot serve.
func (e *Estimator) indexCost(st *workload.Statement, t *dbstate.Table, ix indexChoice, preds []workload.Predicate, joinCols []string,
	loops, found, limit float64, ordered bool) (float64, bool) {
	n := max(t.RowEstimate, 1)
	pages := float64(max(t.Pages, 1))
	if len(ix.keys) == 1 && strings.Contains(ix.keys[0].Opclass, "trgm") {
		// A trigram GIN index answers any LIKE/ILIKE pattern on its column through a bitmap
		// scan; the planner's default pattern selectivity, rows rechecked on the heap.
		for _, p := range preds {
			if p.Column.Column == ix.keys[0].Column && p.Wrapper == nil && !p.Negated &&
				(p.Op == workload.OpLikeWildcard || p.Op == workload.OpLikeParam || p.Op == workload.OpLikePrefix || p.Op == workload.OpRegex) {
				rows := n * defaultMatchSel
				fetched := 2 * pages * rows / (2*pages + rows)
				perPage := randomPageCost - (randomPageCost-seqPageCost)*math.Sqrt(fetched/pages)
				cost := randomPageCost*(2+ix.pages*0.01) + rows*cpuIndexTupleCost + fetched*perPage + rows*cpuTupleCost*2
				if ordered && found > 1 {
					cost += 2 * cpuOperatorCost * found * math.Log2(found)
				}
				return cost, true
			}
		}
		return 0, false
	}
	// A partial index serves only statements whose conditions imply its predicate.
	partial := 1.0
	if ix.where != "" {
		if !impliedBy(ix.where, preds) {
			return 0, false
		}
		partial = e.predicateShare(t, ix.where)
	}
	// Match the keys in order: equality (or a join probe) continues, a range ends the prefix.
	// From 18 a B-tree skip scan also steps over a leading key with no condition, one descent per
	// distinct value of it, when a later key has an equality: (a, b) then serves b = $1.
	idxSel := 1.0
	matched := 0
	probe := false
	descents := 1.0
	skipScan := e.cat.Snapshot().Server.VersionNum >= 180000
	for i, k := range ix.keys {
		eq, rng := false, false
		for _, p := range preds {
			if !keyMatches(k, p) || p.Negated {
				continue
			}
			switch p.Op {
			case workload.OpEq, workload.OpIn:
				if !eq {
					idxSel *= e.selectivity(t, p, nil)
					eq = true
				}
			case workload.OpRange, workload.OpBetween, workload.OpLikePrefix:
				if !p.CaseInsensitive {
					rng = true
				}
			}
		}
		if !eq && k.Column != "" && slices.Contains(joinCols, k.Column) {
			eq, probe = true, true
			idxSel *= 1 / math.Max(e.distinct(t, k.Column), 1)
		}
		if eq {
			matched++
			continue
		}
		if rng {
			matched++
			idxSel *= e.rangeSel(t, k, preds)
			break
		}
		if skipScan && matched == 0 && k.Column != "" && laterEquality(ix.keys[i+1:], preds) {
			if d := e.distinct(t, k.Column); d*descents <= maxSkipDescents {
				descents *= math.Max(d, 1)
				continue
			}
		}
		break
	}
	// The rest of the keys may give the ORDER BY for free.
	sorted := ordered && orderFollows(ix.keys, matched, st)
	if matched == 0 && !(sorted && limit > 0) {
		return 0, false
	}
	if descents > 1 {
		// Skipped keys: the order the rest would give holds only within each skipped value.
		sorted = false
	}
	entries := n * partial * idxSel
	if !probe {
		loops = 1
	}
	perLoop := entries
	if sorted && limit > 0 {
		// Walking the index in order stops after enough matching rows.
		perLoop = math.Min(entries, limit*math.Max(entries/math.Max(found, 1), 1))
	}
	leafPages := math.Max(ix.pages*math.Min(perLoop/math.Max(n*partial, 1), 1), 1)
	indexPart := randomPageCost*(2*descents+leafPages) + perLoop*cpuIndexTupleCost
	heap := 0.0
	if !covers(ix, st, t.Key()) {
		corr := e.correlation(t, ix.keys)
		heapPages := corr*corr*math.Max(pages*perLoop/n, 1) + (1-corr*corr)*math.Min(pages, perLoop)
		heap = heapPages*randomPageCost + perLoop*cpuTupleCost
		if !sorted {
			// A bitmap heap scan reads each page once, in physical order: pages fetched by
			// Mackert and Lohman's formula, each costing between a random and a sequential read.
			fetched := 2 * pages * perLoop / (2*pages + perLoop)
			perPage := randomPageCost - (randomPageCost-seqPageCost)*math.Sqrt(fetched/pages)
			heap = math.Min(heap, fetched*perPage+perLoop*cpuTupleCost)
		}
	} else {
		heap = 0.1 * math.Min(pages, perLoop) * randomPageCost // mostly all-visible pages: index-only
	}
	cost := loops*(indexPart+heap) + loops*perLoop*cpuOperatorCost*float64(len(preds))
	if ordered && !sorted && found > 1 {
		cost += 2 * cpuOperatorCost * found * math.Log2(found)
	}
	return cost, true
}

// maxSkipDescents bounds the skip scans the estimator models: past a few hundred distinct leading
// values a skip scan costs more than a full index scan, which the planner would choose instead.
const maxSkipDescents = 256

// laterEquality reports whether one of keys has an equality condition (a skip scan needs one).
func laterEquality(keys []dbstate.IndexKey, preds []workload.Predicate) bool {
	for _, k := range keys {
		for _, p := range preds {
			if keyMatches(k, p) && !p.Negated && (p.Op == workload.OpEq || p.Op == workload.OpIn) {
				return true
			}
		}
	}
	return false
}

// keyMatches reports whether a predicate is on an index key (a plain column, or the same
// expression).
func keyMatches(k dbstate.IndexKey, p workload.Predicate) bool {
	if k.Column != "" {
		return p.Wrapper == nil && p.Column.Column == k.Column
	}
	return p.Wrapper != nil && normExpr(p.Wrapper.Expr) == normExpr(k.Expr)
}

func normExpr(s string) string {
	return strings.ToLower(strings.NewReplacer("(", "", ")", "", " ", "", `"`, "").Replace(s))
}

// orderFollows: after the matched keys, the index's keys give the statement's ORDER BY (all in the
// same direction, or all reversed).
func orderFollows(keys []dbstate.IndexKey, matched int, st *workload.Statement) bool {
	rest := keys[min(matched, len(keys)):]
	// An equality key can be skipped by the sort: start from the matched prefix's last range key.
	if matched > 0 && matched <= len(keys) {
		rest = keys[matched-1:]
	}
	for _, start := range []int{0, 1} {
		if start >= len(rest) {
			break
		}
		r := rest[start:]
		if len(r) < len(st.OrderBy) {
			continue
		}
		same, reversed := true, true
		for i, o := range st.OrderBy {
			if r[i].Column == "" || o.Column == nil || r[i].Column != o.Column.Column {
				same, reversed = false, false
				break
			}
			same = same && r[i].Desc == o.Desc
			reversed = reversed && r[i].Desc != o.Desc
		}
		if same || reversed {
			return true
		}
	}
	return false
}

// covers: every column the statement reads from the table is in the index (an index-only scan).
func covers(ix indexChoice, st *workload.Statement, table string) bool {
	if st.SelectStar || st.Kind != workload.KindSelect {
		return false
	}
	has := func(col string) bool {
		return slices.Contains(ix.include, col) || slices.ContainsFunc(ix.keys, func(k dbstate.IndexKey) bool { return k.Column == col })
	}
	for _, c := range st.Selected {
		if c.Table == table && !has(c.Column) {
			return false
		}
	}
	for _, p := range st.Predicates {
		if p.Column.Table == table && !has(p.Column.Column) && !(ix.where != "" && strings.Contains(ix.where, p.Column.Column)) {
			return false
		}
	}
	return true
}

// impliedBy: the statement's conditions include the partial index's predicate (the same constant
// equality, IN list or IS NULL).
func impliedBy(where string, preds []workload.Predicate) bool {
	for _, part := range strings.Split(where, " AND ") {
		ok := false
		for _, p := range preds {
			if p.Negated || p.Value != nil && len(p.Value.Params) > 0 {
				continue
			}
			switch p.Op {
			case workload.OpEq, workload.OpIn, workload.OpIsNull:
				if p.Op == workload.OpIsNull || p.Value != nil && len(p.Value.Consts) > 0 {
					ok = ok || samePredicate(part, predicateSQL(p))
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// predicateShare is the share of a table's rows a partial index's predicate keeps.
func (e *Estimator) predicateShare(t *dbstate.Table, where string) float64 {
	if where == "" {
		return 1
	}
	g := &generator{cat: e.cat}
	share := 1.0
	for _, part := range strings.Split(where, " AND ") {
		col, rest, ok := strings.Cut(part, " ")
		if !ok {
			continue
		}
		col = strings.Trim(col, `"`)
		p := workload.Predicate{Column: workload.ColumnRef{Table: t.Key(), Column: col}}
		switch {
		case rest == "IS NULL":
			p.Op = workload.OpIsNull
		case strings.HasPrefix(rest, "IN ("):
			p.Op = workload.OpIn
			p.Value = &workload.Operand{Consts: splitLiterals(strings.TrimSuffix(strings.TrimPrefix(rest, "IN ("), ")"))}
		case strings.HasPrefix(rest, "= "):
			p.Op = workload.OpEq
			p.Value = &workload.Operand{Consts: splitLiterals(strings.TrimPrefix(rest, "= "))}
		default:
			share *= defaultIneqSel
			continue
		}
		if s, known := g.constShare(t, p); known {
			share *= s
		} else {
			share *= defaultEqSel * 10
		}
	}
	return math.Max(share, 1/math.Max(t.RowEstimate, 1))
}

func splitLiterals(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
		out = append(out, strings.ReplaceAll(v, "''", "'"))
	}
	return out
}

// selectivity estimates one condition the way a generic plan does.
func (e *Estimator) selectivity(t *dbstate.Table, p workload.Predicate, before []workload.Predicate) float64 {
	if p.Wrapper != nil {
		switch p.Op {
		case workload.OpEq, workload.OpIn:
			return defaultEqSel
		}
		return defaultIneqSel
	}
	nd := math.Max(e.distinct(t, p.Column.Column), 1)
	var sel float64
	switch p.Op {
	case workload.OpEq:
		sel = 1 / nd
		if p.Value != nil && len(p.Value.Params) == 0 && len(p.Value.Consts) > 0 {
			if s, known := (&generator{cat: e.cat}).constShare(t, p); known {
				sel = math.Max(s, 1/math.Max(t.RowEstimate, 1))
			}
		}
	case workload.OpIn:
		k := 10.0
		if p.Value != nil && p.Value.Kind == workload.OperandList {
			k = float64(max(len(p.Value.Params)+len(p.Value.Consts), 1))
		}
		sel = math.Min(k/nd, 1)
		if p.Value != nil && len(p.Value.Params) == 0 && len(p.Value.Consts) > 0 {
			if s, known := (&generator{cat: e.cat}).constShare(t, p); known {
				sel = math.Max(s, 1/math.Max(t.RowEstimate, 1))
			}
		}
	case workload.OpRange:
		sel = defaultIneqSel
		for _, b := range before {
			if b.Column.Table == p.Column.Table && b.Column.Column == p.Column.Column && b.Op == workload.OpRange && b.Wrapper == nil {
				sel = defaultRangeSel / defaultIneqSel // the pair together is DEFAULT_RANGE_INEQ_SEL
			}
		}
	case workload.OpBetween:
		sel = defaultRangeSel
	case workload.OpIsNull, workload.OpNotNull:
		null := 0.0
		if cs := e.cat.ColumnStat(t.Key(), p.Column.Column); cs != nil {
			null = cs.NullFrac
		}
		sel = null
		if p.Op == workload.OpNotNull {
			sel = 1 - null
		}
	case workload.OpNe:
		sel = 1 - 1/nd
	case workload.OpLikePrefix, workload.OpLikeParam, workload.OpLikeWildcard, workload.OpRegex:
		sel = defaultMatchSel
	default:
		sel = defaultIneqSel
	}
	if p.Negated {
		sel = 1 - sel
	}
	return math.Min(math.Max(sel, 1e-9), 1)
}

// rangeSel is the selectivity of the range conditions on a key column.
func (e *Estimator) rangeSel(t *dbstate.Table, k dbstate.IndexKey, preds []workload.Predicate) float64 {
	n := 0
	for _, p := range preds {
		if keyMatches(k, p) && (p.Op == workload.OpRange || p.Op == workload.OpBetween || p.Op == workload.OpLikePrefix) {
			n++
			if p.Op == workload.OpBetween {
				n++
			}
		}
	}
	if n >= 2 {
		return defaultRangeSel
	}
	return defaultIneqSel
}

func (e *Estimator) distinct(t *dbstate.Table, col string) float64 {
	return (&generator{cat: e.cat}).distinct(t, col)
}

// correlation of the index's first key with the heap order (0 when unknown).
func (e *Estimator) correlation(t *dbstate.Table, keys []dbstate.IndexKey) float64 {
	if len(keys) == 0 || keys[0].Column == "" {
		return 0
	}
	if cs := e.cat.ColumnStat(t.Key(), keys[0].Column); cs != nil && cs.Correlation != nil {
		return math.Abs(*cs.Correlation)
	}
	return 0
}
