// Package rewrite finds statements whose shape keeps indexes from helping, and says how to
// rewrite them: columns hidden inside expressions (date(start_time) = $1), leading-wildcard
// LIKE, ILIKE, OR across columns, deep OFFSET paging, and single-row lookups called so often they
// look like an N+1 loop. It reads the workload model only; it does no I/O.
package rewrite

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/workload"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Thresholds, named so the tests and the documentation can cite them.
const (
	// OffsetLarge is the constant OFFSET from which paging is flagged as deep.
	OffsetLarge = 1000
	// NPlusOneMinCalls and NPlusOneMinCallShare: a single-row lookup is an N+1 suspect when it is
	// called at least this often and makes up at least this share of all calls.
	NPlusOneMinCalls     = 1000
	NPlusOneMinCallShare = 0.10
)

// Analyze returns the rewrite findings for a workload.
func Analyze(w *workload.Workload, cat *dbstate.Catalog) []finding.Finding {
	g := &grouper{byKey: map[string]*finding.Finding{}}
	for _, ws := range w.Statements {
		if ws.Model == nil || ws.System || ws.Model.Kind == workload.KindUtility {
			continue
		}
		// Each sampled variant of a statement is checked: one of them may hold the leading
		// wildcard or the deep OFFSET.
		for _, st := range ws.Models() {
			nonSargable(g, ws, st, cat)
			likeHints(g, ws, st, cat)
			orAcrossColumns(g, ws, st)
			offsetPaging(g, ws, st, cat)
		}
		nPlusOne(g, ws, w, cat)
	}
	return g.findings()
}

// grouper merges findings that share a key (the same hidden column in several statements is one
// finding listing them all).
type grouper struct {
	byKey map[string]*finding.Finding
	order []string
}

func (g *grouper) add(key string, ws *workload.Entry, make func() finding.Finding) {
	f := g.byKey[key]
	if f == nil {
		nf := make()
		f = &nf
		g.byKey[key] = f
		g.order = append(g.order, key)
	}
	for _, s := range f.Statements {
		if s.Fingerprint == ws.Fingerprint {
			return
		}
	}
	f.Statements = append(f.Statements, finding.StatementOf(ws))
	f.Impact += ws.TimeShare
}

func (g *grouper) findings() []finding.Finding {
	out := make([]finding.Finding, 0, len(g.order))
	for _, k := range g.order {
		f := g.byKey[k]
		f.Impact = finding.Round(f.Impact, 4)
		if f.Severity == finding.SeverityInfo { // not set by the rule: grade by the statements' time
			f.Severity = severity(f.Impact)
		}
		out = append(out, *f)
	}
	return out
}

// severity is a rewrite finding's grade: by time share, but never below low (a hint about a
// rarely run statement is still true) unless it concerns almost nothing.
func severity(share float64) finding.Severity {
	return max(finding.SeverityForShare(share), finding.SeverityLow)
}

// ---- non-sargable predicates ----

// nonSargable flags a column hidden inside an expression on the column side of a comparison, when
// the comparison can be rewritten so the column stands alone. lower()/upper() are left to the
// index engine: no rewrite keeps their meaning, an expression index does.
func nonSargable(g *grouper, ws *workload.Entry, st *workload.Statement, cat *dbstate.Catalog) {
	for _, p := range st.Predicates {
		wr := p.Wrapper
		if wr == nil || p.Column.Table == "" || p.Negated || p.Value == nil {
			continue
		}
		switch p.Op {
		case workload.OpEq, workload.OpRange, workload.OpBetween, workload.OpIn:
		default:
			continue
		}
		t := cat.Table(p.Column.Table)
		colType := ""
		if t != nil {
			if c := t.Column(p.Column.Column); c != nil {
				colType = c.Type
			}
		}
		rw, exact := rewriteFor(p, colType)
		if rw == "" {
			continue
		}
		col := p.Column.String()
		key := "non_sargable|" + col + "|" + string(wr.Kind) + "|" + wr.Name
		g.add(key, ws, func() finding.Finding {
			f := finding.Finding{
				Rule: "rewrite.non_sargable", Kind: finding.KindRewrite, Table: p.Column.Table,
				Title: fmt.Sprintf("%s hides %s from its indexes", wr.Expr, col),
				Detail: fmt.Sprintf("The condition applies %s to the column, so PostgreSQL must compute it for every row it "+
					"considers: no index on %s can narrow the scan. Rewritten so the column stands alone, the same "+
					"condition becomes an index range.", describeWrapper(wr), p.Column.Column),
				Evidence: finding.Facts("condition", conditionText(p), "column", col, "column_type", colType),
			}
			if exact {
				f.Action = "rewrite the condition as: " + rw
			} else {
				f.Action = rw
			}
			return f
		})
	}
}

func describeWrapper(wr *workload.Wrapper) string {
	switch wr.Kind {
	case workload.WrapCast:
		return "a cast to " + wr.Name
	case workload.WrapArithmetic:
		return "arithmetic (" + wr.Name + ")"
	}
	return "the function " + wr.Name + "()"
}

func conditionText(p workload.Predicate) string {
	left := p.Column.Column
	if p.Wrapper != nil {
		left = p.Wrapper.Expr
	}
	op := p.Operator
	switch p.Op {
	case workload.OpIn:
		op = "IN"
		if strings.HasPrefix(p.Value.Text, "$") || strings.HasPrefix(p.Value.Text, "ARRAY") {
			op = p.Operator + " ANY"
		}
	case workload.OpBetween:
		op = "BETWEEN"
	case workload.OpLikePrefix, workload.OpLikeWildcard, workload.OpLikeParam:
		op = "LIKE"
		if p.CaseInsensitive {
			op = "ILIKE"
		}
	}
	if p.Value == nil {
		return left + " " + op
	}
	return left + " " + op + " " + p.Value.Text
}

// rewriteFor returns the rewritten condition, and whether it is exactly equivalent; "" when
// pgtune knows no rewrite.
func rewriteFor(p workload.Predicate, colType string) (string, bool) {
	wr, col, v := p.Wrapper, quote.Ident(p.Column.Column), p.Value.Text
	timestamp := strings.HasPrefix(colType, "timestamp") || colType == ""
	dateCast := (wr.Kind == workload.WrapFunction && wr.Name == "date") || (wr.Kind == workload.WrapCast && wr.Name == "date")
	switch {
	case dateCast && timestamp && len(wr.OtherColumns) == 0:
		d := "(" + v + ")::date"
		if p.Value.Kind == workload.OperandParam || p.Value.Kind == workload.OperandConst {
			d = v + "::date"
		}
		switch p.Op {
		case workload.OpEq:
			return fmt.Sprintf("%s >= %s AND %s < %s + 1", col, d, col, d), true
		case workload.OpRange:
			switch p.Operator {
			case ">=":
				return fmt.Sprintf("%s >= %s", col, d), true
			case ">":
				return fmt.Sprintf("%s >= %s + 1", col, d), true
			case "<":
				return fmt.Sprintf("%s < %s", col, d), true
			case "<=":
				return fmt.Sprintf("%s < %s + 1", col, d), true
			}
		case workload.OpBetween:
			if len(p.Value.Params)+len(p.Value.Consts) == 2 {
				parts := splitPair(v)
				return fmt.Sprintf("%s >= %s::date AND %s < %s::date + 1", col, parts[0], col, parts[1]), true
			}
		}
	case wr.Kind == workload.WrapFunction && wr.Name == "date_trunc" && len(wr.OtherColumns) == 0 && p.Op == workload.OpEq:
		unit := truncUnit(wr.Expr)
		if unit == "" {
			return "", false
		}
		return fmt.Sprintf("%s >= %s AND %s < %s + interval '1 %s'", col, v, col, v, unit), true
	case wr.Kind == workload.WrapArithmetic && (wr.Name == "+" || wr.Name == "-") && p.Op == workload.OpRange:
		other, ok := otherOperand(wr.Expr, p.Column.Column, wr.Name)
		if !ok {
			return "", false
		}
		if len(wr.OtherColumns) == 0 {
			flip := map[string]string{"+": "-", "-": "+"}[wr.Name]
			return fmt.Sprintf("%s %s %s %s %s", col, p.Operator, v, flip, other), true
		}
		// The expression mixes two columns (start_time + duration): no exact rewrite, but a
		// redundant bound on the column alone lets an index bound the scan on that side too.
		if wr.Name == "+" && (p.Operator == ">" || p.Operator == ">=") {
			return fmt.Sprintf("keep the condition and add a redundant bound on %[1]s alone, so an index on %[1]s can bound "+
				"the scan from both sides: AND %[1]s %[2]s %[3]s - interval '<upper bound>', where the upper bound is the "+
				"largest %[4]s any row can have (for example 8 hours); the result is unchanged, since no row can satisfy "+
				"the condition without it", col, p.Operator, v, other), false
		}
	case wr.Kind == workload.WrapCast && len(wr.OtherColumns) == 0 && colType != "" && !dateCast:
		return fmt.Sprintf("%s %s CAST(%s AS %s)  -- cast the value to the column's type, not the column", col, opText(p), v, colType), true
	}
	return "", false
}

func opText(p workload.Predicate) string {
	if p.Op == workload.OpIn {
		return "= ANY"
	}
	return p.Operator
}

func splitPair(list string) [2]string {
	s := strings.TrimSuffix(strings.TrimPrefix(list, "("), ")")
	a, b, _ := strings.Cut(s, ", ")
	return [2]string{a, b}
}

// truncUnit reads the unit of date_trunc('day', col).
func truncUnit(expr string) string {
	_, rest, ok := strings.Cut(expr, "'")
	if !ok {
		return ""
	}
	unit, _, ok := strings.Cut(rest, "'")
	if !ok {
		return ""
	}
	return unit
}

// otherOperand finds what is added to or subtracted from column in "column + x" / "x + column".
func otherOperand(expr, column, op string) (string, bool) {
	left, right, ok := strings.Cut(expr, " "+op+" ")
	if !ok {
		return "", false
	}
	switch column {
	case strings.TrimSpace(lastPart(left)):
		return strings.TrimSpace(right), true
	case strings.TrimSpace(lastPart(right)):
		if op == "-" {
			return "", false // x - column: the column's sign flips; leave it
		}
		return strings.TrimSpace(left), true
	}
	return "", false
}

func lastPart(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// ---- LIKE and ILIKE ----

func likeHints(g *grouper, ws *workload.Entry, st *workload.Statement, cat *dbstate.Catalog) {
	for _, p := range st.Predicates {
		if p.Column.Table == "" || p.Wrapper != nil || p.Negated {
			continue
		}
		col := p.Column.String()
		table := quote.QualifiedKey(p.Column.Table)
		short := shortName(p.Column.Table)
		switch {
		case p.Op == workload.OpLikeWildcard:
			key := "leading_wildcard|" + col
			g.add(key, ws, func() finding.Finding {
				trgm := ""
				if cat.Snapshot().Extension("pg_trgm") == nil {
					trgm = "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
				}
				idx := indexName(short, p.Column.Column, "trgm")
				return finding.Finding{
					Rule: "rewrite.leading_wildcard", Kind: finding.KindRewrite, Table: p.Column.Table,
					Title: fmt.Sprintf("%s starts with a wildcard: no B-tree index can serve it", conditionText(p)),
					Detail: "A pattern that starts with % (or _) has no fixed prefix, so a B-tree index cannot narrow " +
						"the scan and every candidate row is read and matched. A trigram GIN index serves any " +
						"LIKE/ILIKE pattern; for a pure suffix search an index on reverse() is smaller.",
					Evidence: finding.Facts("condition", conditionText(p), "column", col),
					SQL:      fmt.Sprintf("%sCREATE INDEX CONCURRENTLY %s ON %s USING gin (%s gin_trgm_ops);", trgm, idx, table, quote.Ident(p.Column.Column)),
					Action: fmt.Sprintf("or, for suffix searches (the pattern only starts with %%): WHERE reverse(%[1]s) LIKE reverse(<suffix>) || '%%' "+
						"with CREATE INDEX CONCURRENTLY %[2]s ON %[3]s (reverse(%[1]s) text_pattern_ops);",
						quote.Ident(p.Column.Column), indexName(short, p.Column.Column, "reverse"), table),
				}
			})
		case p.CaseInsensitive && (p.Op == workload.OpLikePrefix || p.Op == workload.OpLikeParam):
			key := "ilike|" + col
			g.add(key, ws, func() finding.Finding {
				c := quote.Ident(p.Column.Column)
				return finding.Finding{
					Rule: "rewrite.ilike", Kind: finding.KindRewrite, Table: p.Column.Table,
					Title: fmt.Sprintf("%s: ILIKE cannot use a B-tree index", conditionText(p)),
					Detail: "ILIKE matches case-insensitively, which no B-tree operator class supports, even for a " +
						"pattern with a fixed prefix. Comparing lower() of both sides keeps the meaning and lets an " +
						"expression index with text_pattern_ops serve prefix patterns.",
					Evidence: finding.Facts("condition", conditionText(p), "column", col),
					SQL: fmt.Sprintf("CREATE INDEX CONCURRENTLY %s ON %s (lower(%s) text_pattern_ops);",
						indexName(short, p.Column.Column, "lower"), table, c),
					Action: fmt.Sprintf("and rewrite the condition as: lower(%s) LIKE lower(%s)", c, p.Value.Text),
				}
			})
		}
	}
}

// ---- OR across columns ----

func orAcrossColumns(g *grouper, ws *workload.Entry, st *workload.Statement) {
	groups := map[int][]workload.Predicate{}
	for _, p := range st.Predicates {
		if p.OrGroup > 0 && p.Clause != "having" {
			groups[p.OrGroup] = append(groups[p.OrGroup], p)
		}
	}
	ids := make([]int, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		preds := groups[id]
		var cols []string
		for _, p := range preds {
			if c := p.Column.String(); !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
		if len(cols) < 2 {
			continue // valid_until IS NULL OR valid_until >= $1: one column, one index range
		}
		var conds []string
		for _, p := range preds {
			conds = append(conds, conditionText(p))
		}
		table := preds[0].Column.Table
		key := fmt.Sprintf("or|%s|%s", ws.Fingerprint, strings.Join(cols, ","))
		g.add(key, ws, func() finding.Finding {
			return finding.Finding{
				Rule: "rewrite.or_across_columns", Kind: finding.KindRewrite, Table: table,
				Title: "OR across " + strings.Join(cols, " and ") + " defeats a single index",
				Detail: "An OR between conditions on different columns can only use indexes as a BitmapOr, which needs " +
					"an index on every column involved, and otherwise scans the whole table. Splitting the statement " +
					"into one query per alternative, combined with UNION (or UNION ALL when they cannot overlap), lets " +
					"each part use its own index.",
				Evidence: finding.Facts("or_condition", strings.Join(conds, " OR "), "columns", strings.Join(cols, ", ")),
				Action: fmt.Sprintf("rewrite as: SELECT … WHERE %s UNION SELECT … WHERE %s (one branch per alternative), "+
					"or index each of %s", conds[0], strings.Join(conds[1:], " UNION SELECT … WHERE "), strings.Join(cols, ", ")),
			}
		})
	}
}

// ---- OFFSET paging ----

func offsetPaging(g *grouper, ws *workload.Entry, st *workload.Statement, cat *dbstate.Catalog) {
	off := st.Offset
	if off == nil || st.Kind != workload.KindSelect {
		return
	}
	if off.Known() && off.Value < OffsetLarge {
		return
	}
	offText := fmt.Sprint(off.Value)
	if !off.Known() {
		offText = fmt.Sprintf("$%d", off.Param)
	}
	table := ""
	if keys := st.TableKeys(); len(keys) > 0 {
		table = keys[0]
	}
	g.add("offset|"+ws.Fingerprint, ws, func() finding.Finding {
		f := finding.Finding{
			Rule: "rewrite.offset_paging", Kind: finding.KindRewrite, Table: table,
			Title: fmt.Sprintf("OFFSET %s paging%s re-reads every earlier page", offText, orderText(st)),
			Detail: "OFFSET n makes PostgreSQL produce and discard n rows before the page it returns, so each page " +
				"costs more than the one before and deep pages cost as much as the whole list. Keyset paging " +
				"(remember the last row's sort key and continue after it) costs the same for every page.",
			Evidence: finding.Facts("offset", offText, "rows_per_call", finding.Round(ws.RowsPerCall(), 4)),
			Action:   keysetHint(st, cat),
		}
		if off.Known() {
			f.Severity = max(severity(ws.TimeShare), finding.SeverityMedium)
		} else {
			f.Detail += " pg_stat_statements does not record the offsets used; the deeper users page, the more it costs."
			f.Severity = min(severity(ws.TimeShare), finding.SeverityMedium)
		}
		return f
	})
}

// orderText is " by start_time DESC" for a statement's ORDER BY ("" without one).
func orderText(st *workload.Statement) string {
	var keys []string
	for _, k := range st.OrderBy {
		e := k.Expr
		if k.Column != nil {
			e = k.Column.Column
		}
		if k.Desc {
			e += " DESC"
		}
		keys = append(keys, e)
	}
	if len(keys) == 0 {
		return ""
	}
	return " by " + strings.Join(keys, ", ")
}

// keysetHint builds the keyset version of a statement's ORDER BY, with the primary key as a
// tie-breaker.
func keysetHint(st *workload.Statement, cat *dbstate.Catalog) string {
	if len(st.OrderBy) == 0 {
		return "add an ORDER BY on a unique key and page with WHERE key > $last_key ORDER BY key LIMIT n instead of OFFSET"
	}
	var cols, lasts []string
	desc := st.OrderBy[0].Desc
	mixed := false
	for _, k := range st.OrderBy {
		name := k.Expr
		if k.Column != nil {
			name = quote.Ident(k.Column.Column)
		}
		cols = append(cols, name)
		lasts = append(lasts, "$last_"+strings.Trim(lastPart(name), `"`))
		mixed = mixed || k.Desc != desc
	}
	if pk := primaryKey(st, cat); pk != "" && !slices.Contains(cols, pk) {
		cols = append(cols, pk)
		lasts = append(lasts, "$last_"+pk)
	}
	if mixed {
		return "page by keyset: remember the last row's " + strings.Join(cols, ", ") +
			" and continue after it (the sort mixes directions, so spell the comparison out column by column) instead of OFFSET"
	}
	op, dir := ">", ""
	if desc {
		op, dir = "<", " DESC"
	}
	order := make([]string, len(cols))
	for i, c := range cols {
		order[i] = c + dir
	}
	return fmt.Sprintf("page by keyset instead of OFFSET: AND (%s) %s (%s) ORDER BY %s LIMIT <page size>, passing the last row's values of the previous page",
		strings.Join(cols, ", "), op, strings.Join(lasts, ", "), strings.Join(order, ", "))
}

// primaryKey returns the single-column primary key of the statement's first table, if any.
func primaryKey(st *workload.Statement, cat *dbstate.Catalog) string {
	keys := st.TableKeys()
	if len(keys) == 0 {
		return ""
	}
	t := cat.Table(keys[0])
	if t == nil {
		return ""
	}
	for _, c := range cat.Constraints(t.Key()) {
		if c.Type == "primary_key" && len(c.Columns) == 1 {
			return c.Columns[0]
		}
	}
	return ""
}

// ---- N+1 ----

// nPlusOne flags a single-row lookup by a unique key that makes up a large share of all calls:
// the shape of a loop in the application that could send one set-based statement instead.
func nPlusOne(g *grouper, ws *workload.Entry, w *workload.Workload, cat *dbstate.Catalog) {
	st := ws.Model
	if w.TotalCalls == 0 || ws.Calls < NPlusOneMinCalls {
		return
	}
	share := float64(ws.Calls) / float64(w.TotalCalls)
	if share < NPlusOneMinCallShare || ws.RowsPerCall() > 1.5 {
		return
	}
	switch st.Kind {
	case workload.KindSelect, workload.KindUpdate, workload.KindDelete:
	default:
		return
	}
	keys := st.TableKeys()
	if len(keys) != 1 {
		return
	}
	t := cat.Table(keys[0])
	if t == nil {
		return
	}
	key := uniqueKeyMatched(st, cat, t)
	if key == nil {
		return
	}
	g.add("n_plus_one|"+ws.Fingerprint, ws, func() finding.Finding {
		cols := strings.Join(key, ", ")
		return finding.Finding{
			Rule: "rewrite.n_plus_one", Kind: finding.KindRewrite, Table: t.Key(),
			Severity: max(severity(ws.TimeShare), finding.SeverityMedium),
			Title:    fmt.Sprintf("%s of one %s row by %s runs %s times: an N+1 loop?", kindVerb(st.Kind), t.Name, cols, compact(ws.Calls)),
			Detail: fmt.Sprintf("This single-row statement makes up %.0f%% of all calls. Called once per row of an earlier "+
				"result, each call pays a round trip, parsing and planning for one row; one statement over the whole set "+
				"costs a fraction of that.", share*100),
			Evidence: finding.Facts("calls", ws.Calls, "call_share", finding.Round(share, 4), "rows_per_call", finding.Round(ws.RowsPerCall(), 4),
				"mean_exec_ms", finding.Round(ws.MeanExecMs, 4), "key", cols),
			Action: fmt.Sprintf("send the keys of one batch together: WHERE %s = ANY($1) with an array parameter "+
				"(or join this statement into the query that produced the keys)", quote.Ident(key[0])),
		}
	})
}

func kindVerb(k workload.StatementKind) string {
	switch k {
	case workload.KindUpdate:
		return "UPDATE"
	case workload.KindDelete:
		return "DELETE"
	}
	return "Lookup"
}

// uniqueKeyMatched returns the columns of a primary key or unique constraint/index of t that
// the statement's top-level conditions fix by equality, or nil.
func uniqueKeyMatched(st *workload.Statement, cat *dbstate.Catalog, t *dbstate.Table) []string {
	eq := map[string]bool{}
	for _, p := range st.Predicates {
		if p.OrGroup == 0 && !p.Negated && p.Wrapper == nil && p.Op == workload.OpEq && p.Column.Table == t.Key() {
			eq[p.Column.Column] = true
		}
	}
	var keys [][]string
	for _, ix := range cat.Indexes(t.Key()) {
		if !ix.Unique || !ix.Valid || ix.Predicate != "" {
			continue
		}
		var cols []string
		for _, k := range ix.Keys {
			if k.Column == "" {
				cols = nil
				break
			}
			cols = append(cols, k.Column)
		}
		if len(cols) > 0 {
			keys = append(keys, cols)
		}
	}
	slices.SortFunc(keys, func(a, b []string) int { return cmp.Compare(len(a), len(b)) })
	for _, cols := range keys {
		all := true
		for _, c := range cols {
			all = all && eq[c]
		}
		if all {
			return cols
		}
	}
	return nil
}

func compact(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// shortName is a table key without its schema.
func shortName(key string) string { return lastPart(key) }

// indexName builds a deterministic index name of at most 63 bytes (PostgreSQL's limit).
func indexName(table, column, suffix string) string {
	return quote.Ident(quote.Name("idx", table, column, suffix))
}
