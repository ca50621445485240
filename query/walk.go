package query

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/bookedbarber/pgtune/workload"
)

// walker fills a workload.Statement from a parse tree. It visits only the node types that say how
// rows are reached (a typed walk, not reflection: it runs once per pg_stat_statements entry, and
// the benchmark holds the whole model to 1.5x the parser's own cost).
type walker struct {
	st         *workload.Statement
	orGroups   int
	boundsSeen bool
	views      *Views
	viewDepth  int // views inside views being walked (a cycle cannot be created, but stay bounded)
}

// scopeEntry is a name a query level can qualify columns with.
type scopeEntry struct {
	name    string // the alias, or the table name when there is none
	table   string // the table's Key(); empty for a CTE, subquery or function in FROM
	derived bool
	// through is set for a derived entry PostgreSQL plans through (see transparent): its
	// columns are the base table's.
	through *transparent
}

// transparent is a subquery or CTE the planner inlines and pushes conditions into: one base
// table, no grouping, DISTINCT, LIMIT, window or set operation (PostgreSQL 12+ inlines a CTE
// that is not MATERIALIZED, not recursive and a plain SELECT). A condition on its output column
// is a condition on the base table's column, which an index on the base table serves.
type transparent struct {
	base *scopeEntry
	cols map[string]string // output name → base column
	star bool              // SELECT *: every base column, by its own name
}

// column maps an output column to the base table's, if it is one.
func (t *transparent) column(name string) (string, bool) {
	if c, ok := t.cols[name]; ok {
		return c, true
	}
	return name, t.star
}

// scope is one query level's FROM list; parent is the enclosing level (for correlated
// subqueries) and ctes the WITH names visible here.
type scope struct {
	parent  *scope
	entries []*scopeEntry
	ctes    map[string]*transparent // nil value: a CTE the planner does not plan through
	targets []*pg_query.ResTarget
}

func (s *scope) isCTE(name string) bool {
	for sc := s; sc != nil; sc = sc.parent {
		if _, ok := sc.ctes[name]; ok {
			return true
		}
	}
	return false
}

func (s *scope) cte(name string) *transparent {
	for sc := s; sc != nil; sc = sc.parent {
		if t, ok := sc.ctes[name]; ok {
			return t
		}
	}
	return nil
}

// transparentOf says whether the planner plans through a subquery whose level sc is, and how its
// output columns map to the base table's.
func transparentOf(sel *pg_query.SelectStmt, sc *scope) *transparent {
	if sel == nil || sc == nil || sel.Larg != nil || sel.Rarg != nil || len(sel.GroupClause) > 0 || sel.HavingClause != nil ||
		len(sel.DistinctClause) > 0 || sel.LimitCount != nil || sel.LimitOffset != nil || len(sel.WindowClause) > 0 ||
		len(sel.LockingClause) > 0 || len(sc.entries) != 1 || len(sel.ValuesLists) > 0 {
		return nil
	}
	e := sc.entries[0]
	base := e
	if e.derived {
		if e.through == nil {
			return nil
		}
		base = e.through.base
	}
	t := &transparent{base: base, cols: map[string]string{}}
	for _, rt := range sc.targets {
		if fc := rt.Val.GetFuncCall(); fc != nil && fc.Over != nil {
			return nil // a window function: conditions stay above it
		}
		cr := rt.Val.GetColumnRef()
		if cr == nil {
			continue
		}
		var names []string
		star := false
		for _, f := range cr.Fields {
			if f.GetAStar() != nil {
				star = true
				continue
			}
			names = append(names, f.GetString_().GetSval())
		}
		if star {
			if e.through != nil {
				t.star = e.through.star
				for k, v := range e.through.cols {
					t.cols[k] = v
				}
			} else {
				t.star = true
			}
			continue
		}
		if len(names) == 0 {
			continue
		}
		col := names[len(names)-1]
		if e.through != nil {
			c, ok := e.through.column(col)
			if !ok {
				continue
			}
			col = c
		}
		out := names[len(names)-1]
		if rt.Name != "" {
			out = rt.Name
		}
		t.cols[out] = col
	}
	return t
}

// colInfo is a column found in an expression, with the scope entry it belongs to.
type colInfo struct {
	ref   workload.ColumnRef
	entry *scopeEntry // nil when unresolved (several candidates)
	outer bool        // the column belongs to an enclosing query level
}

func (w *walker) statement(n *pg_query.Node, parent *scope) workload.StatementKind {
	switch {
	case n.GetSelectStmt() != nil:
		w.selectStmt(n.GetSelectStmt(), parent)
		return workload.KindSelect
	case n.GetInsertStmt() != nil:
		w.insertStmt(n.GetInsertStmt(), parent)
		return workload.KindInsert
	case n.GetUpdateStmt() != nil:
		w.updateStmt(n.GetUpdateStmt(), parent)
		return workload.KindUpdate
	case n.GetDeleteStmt() != nil:
		w.deleteStmt(n.GetDeleteStmt(), parent)
		return workload.KindDelete
	case n.GetMergeStmt() != nil:
		w.mergeStmt(n.GetMergeStmt(), parent)
		return workload.KindMerge
	}
	return workload.KindUtility
}

func (w *walker) with(wc *pg_query.WithClause, sc *scope) {
	if wc == nil {
		return
	}
	sc.ctes = map[string]*transparent{}
	for _, c := range wc.Ctes {
		if cte := c.GetCommonTableExpr(); cte != nil {
			sc.ctes[cte.Ctename] = nil
		}
	}
	for _, c := range wc.Ctes {
		cte := c.GetCommonTableExpr()
		if cte == nil {
			continue
		}
		sel := cte.Ctequery.GetSelectStmt()
		if sel == nil {
			w.statement(cte.Ctequery, sc)
			continue
		}
		inner := w.selectStmt(sel, sc)
		// PostgreSQL 12+ plans through a CTE unless it is MATERIALIZED or recursive (and,
		// without NOT MATERIALIZED, referenced once: a second reference only costs the
		// planner's pricing of the index, which then shows no gain).
		if !wc.Recursive && cte.Ctematerialized != pg_query.CTEMaterialize_CTEMaterializeAlways && len(cte.Aliascolnames) == 0 {
			sc.ctes[cte.Ctename] = transparentOf(sel, inner)
		}
	}
}

// selectStmt walks one query level and returns its scope (nil for a set operation).
func (w *walker) selectStmt(sel *pg_query.SelectStmt, parent *scope) *scope {
	if sel == nil {
		return nil
	}
	if !w.boundsSeen && (sel.LimitCount != nil || sel.LimitOffset != nil) {
		// The outermost level is entered first, so its bounds win.
		w.boundsSeen = true
		w.st.Limit, w.st.Offset = bound(sel.LimitCount), bound(sel.LimitOffset)
	}
	sc := &scope{parent: parent}
	w.with(sel.WithClause, sc)
	if sel.Larg != nil || sel.Rarg != nil {
		// UNION / INTERSECT / EXCEPT: each branch is a query level of its own; the set's ORDER BY
		// names output columns, which belong to no one table.
		w.selectStmt(sel.Larg, sc)
		w.selectStmt(sel.Rarg, sc)
		w.sortKeys(sel.SortClause, sc, false)
		return nil
	}
	for _, vl := range sel.ValuesLists {
		w.expr(vl, sc)
	}
	for _, f := range sel.FromClause {
		w.fromItem(f, sc)
	}
	w.where(sel.WhereClause, sc, 0, false, "where")
	for _, t := range sel.TargetList {
		if rt := t.GetResTarget(); rt != nil {
			sc.targets = append(sc.targets, rt)
			w.selectTarget(rt.Val, sc)
		}
	}
	w.sortKeys(sel.GroupClause, sc, true)
	w.where(sel.HavingClause, sc, 0, false, "having")
	w.sortKeys(sel.SortClause, sc, false)
	for _, l := range sel.LockingClause {
		if lc := l.GetLockingClause(); lc != nil && w.st.Locking == "" {
			w.st.Locking = lockingText(lc)
		}
	}
	return sc
}

func (w *walker) insertStmt(ins *pg_query.InsertStmt, parent *scope) {
	sc := &scope{parent: parent}
	w.with(ins.WithClause, sc)
	e := w.addTable(ins.Relation, sc, workload.AccessWrite)
	for _, c := range ins.Cols {
		if rt := c.GetResTarget(); rt != nil && e != nil {
			w.st.InsertColumns = append(w.st.InsertColumns, workload.ColumnRef{Table: e.table, Column: rt.Name})
		}
	}
	if src := ins.SelectStmt.GetSelectStmt(); src != nil {
		// The source does not see the target table.
		w.selectStmt(src, &scope{parent: parent, ctes: sc.ctes})
	}
	if oc := ins.OnConflictClause; oc != nil && e != nil {
		for _, t := range oc.TargetList {
			if rt := t.GetResTarget(); rt != nil {
				w.st.SetColumns = append(w.st.SetColumns, workload.ColumnRef{Table: e.table, Column: rt.Name})
				w.expr(rt.Val, sc)
			}
		}
	}
	w.targets(ins.ReturningList, sc)
}

func (w *walker) updateStmt(up *pg_query.UpdateStmt, parent *scope) {
	sc := &scope{parent: parent}
	w.with(up.WithClause, sc)
	e := w.addTable(up.Relation, sc, workload.AccessWrite)
	for _, f := range up.FromClause {
		w.fromItem(f, sc)
	}
	for _, t := range up.TargetList {
		if rt := t.GetResTarget(); rt != nil {
			if e != nil {
				w.st.SetColumns = append(w.st.SetColumns, workload.ColumnRef{Table: e.table, Column: rt.Name})
			}
			w.expr(rt.Val, sc)
		}
	}
	w.where(up.WhereClause, sc, 0, false, "where")
	w.targets(up.ReturningList, sc)
}

func (w *walker) deleteStmt(del *pg_query.DeleteStmt, parent *scope) {
	sc := &scope{parent: parent}
	w.with(del.WithClause, sc)
	w.addTable(del.Relation, sc, workload.AccessWrite)
	for _, f := range del.UsingClause {
		w.fromItem(f, sc)
	}
	w.where(del.WhereClause, sc, 0, false, "where")
	w.targets(del.ReturningList, sc)
}

func (w *walker) mergeStmt(m *pg_query.MergeStmt, parent *scope) {
	sc := &scope{parent: parent}
	w.with(m.WithClause, sc)
	w.addTable(m.Relation, sc, workload.AccessWrite)
	w.fromItem(m.SourceRelation, sc)
	w.where(m.JoinCondition, sc, 0, false, "join")
}

// targets walks a RETURNING list for subqueries.
func (w *walker) targets(list []*pg_query.Node, sc *scope) {
	for _, t := range list {
		if rt := t.GetResTarget(); rt != nil {
			w.expr(rt.Val, sc)
		}
	}
}

func (w *walker) addTable(rv *pg_query.RangeVar, sc *scope, access workload.Access) *scopeEntry {
	if rv == nil {
		return nil
	}
	name := rv.Relname
	if a := rv.GetAlias(); a != nil && a.Aliasname != "" {
		name = a.Aliasname
	}
	if rv.Schemaname == "" && sc.isCTE(rv.Relname) {
		e := &scopeEntry{name: name, derived: true, through: sc.cte(rv.Relname)}
		sc.entries = append(sc.entries, e)
		return nil
	}
	ref := workload.TableRef{Schema: rv.Schemaname, Name: rv.Relname, Access: access}
	if a := rv.GetAlias(); a != nil {
		ref.Alias = a.Aliasname
	}
	if sel := w.views.lookup(ref.Key()); sel != nil && access == workload.AccessRead && w.viewDepth < 8 {
		// A view: its body is walked as a subquery of its own (it sees nothing of this one),
		// and the planner plans through it when it is simple enough.
		w.viewDepth++
		inner := w.selectStmt(sel, nil)
		w.viewDepth--
		e := &scopeEntry{name: name, derived: true, through: transparentOf(sel, inner)}
		sc.entries = append(sc.entries, e)
		return nil
	}
	w.st.Tables = append(w.st.Tables, ref)
	e := &scopeEntry{name: name, table: ref.Key()}
	sc.entries = append(sc.entries, e)
	return e
}

func (w *walker) fromItem(n *pg_query.Node, sc *scope) {
	switch {
	case n == nil:
	case n.GetRangeVar() != nil:
		w.addTable(n.GetRangeVar(), sc, workload.AccessRead)
	case n.GetJoinExpr() != nil:
		j := n.GetJoinExpr()
		before := len(sc.entries)
		w.fromItem(j.Larg, sc)
		mid := len(sc.entries)
		w.fromItem(j.Rarg, sc)
		w.where(j.Quals, sc, 0, false, "join")
		for _, u := range j.UsingClause {
			col := u.GetString_().GetSval()
			left := columnOnEntries(col, sc.entries[before:mid])
			right := columnOnEntries(col, sc.entries[mid:])
			w.st.Joins = append(w.st.Joins, workload.JoinKey{Left: left, Right: right, Clause: "join"})
		}
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		sub := rs.Subquery.GetSelectStmt()
		inner := w.selectStmt(sub, sc)
		name := ""
		e := &scopeEntry{derived: true}
		if a := rs.GetAlias(); a != nil {
			name = a.Aliasname
			if len(a.Colnames) == 0 && !rs.Lateral {
				e.through = transparentOf(sub, inner)
			}
		}
		e.name = name
		sc.entries = append(sc.entries, e)
	case n.GetRangeFunction() != nil:
		rf := n.GetRangeFunction()
		name := ""
		if a := rf.GetAlias(); a != nil {
			name = a.Aliasname
		}
		sc.entries = append(sc.entries, &scopeEntry{name: name, derived: true})
	}
}

// columnOnEntries names a USING column on one side of a join.
func columnOnEntries(col string, entries []*scopeEntry) workload.ColumnRef {
	var tables []string
	for _, e := range entries {
		if !e.derived {
			tables = append(tables, e.table)
		}
	}
	if len(tables) == 1 {
		return workload.ColumnRef{Table: tables[0], Column: col}
	}
	return workload.ColumnRef{Column: col, Candidates: tables}
}

// resolve finds the table a column reference belongs to.
func resolve(cr *pg_query.ColumnRef, sc *scope) (colInfo, bool) {
	var names []string
	for _, f := range cr.Fields {
		if f.GetAStar() != nil {
			return colInfo{}, false
		}
		names = append(names, f.GetString_().GetSval())
	}
	switch len(names) {
	case 1:
		col := names[0]
		for level, s := 0, sc; s != nil; level, s = level+1, s.parent {
			if len(s.entries) == 0 {
				continue // e.g. SELECT 1 inside EXISTS: look outwards
			}
			var tables []*scopeEntry
			for _, e := range s.entries {
				if !e.derived {
					tables = append(tables, e)
				}
			}
			if len(s.entries) == 1 && s.entries[0].through != nil {
				if c, ok := s.entries[0].through.column(col); ok {
					b := s.entries[0].through.base
					return colInfo{ref: workload.ColumnRef{Table: b.table, Column: c}, entry: b, outer: level > 0}, true
				}
				return colInfo{}, false
			}
			if len(s.entries) == 1 && len(tables) == 1 {
				return colInfo{ref: workload.ColumnRef{Table: tables[0].table, Column: col}, entry: tables[0], outer: level > 0}, true
			}
			if len(tables) == 0 {
				return colInfo{}, false // only subqueries or CTEs in scope
			}
			var cands []string
			for _, e := range tables {
				cands = append(cands, e.table)
			}
			return colInfo{ref: workload.ColumnRef{Column: col, Candidates: dedupe(cands)}, outer: level > 0}, true
		}
		return colInfo{}, false
	case 2, 3:
		qual, col := names[len(names)-2], names[len(names)-1]
		schema := ""
		if len(names) == 3 {
			schema = names[0]
		}
		for level, s := 0, sc; s != nil; level, s = level+1, s.parent {
			for _, e := range s.entries {
				match := e.name == qual
				if schema != "" {
					match = e.table == schema+"."+qual
				}
				if match {
					if e.derived {
						if e.through != nil {
							if c, ok := e.through.column(col); ok {
								b := e.through.base
								return colInfo{ref: workload.ColumnRef{Table: b.table, Column: c}, entry: b, outer: level > 0}, true
							}
						}
						return colInfo{}, false
					}
					return colInfo{ref: workload.ColumnRef{Table: e.table, Column: col}, entry: e, outer: level > 0}, true
				}
			}
		}
	}
	return colInfo{}, false
}

func dedupe(in []string) []string {
	out := in[:0]
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// columnsIn lists the columns inside an expression (not inside its subqueries).
func columnsIn(n *pg_query.Node, sc *scope, out []colInfo) []colInfo {
	switch {
	case n == nil:
	case n.GetColumnRef() != nil:
		if c, ok := resolve(n.GetColumnRef(), sc); ok {
			out = append(out, c)
		}
	case n.GetTypeCast() != nil:
		out = columnsIn(n.GetTypeCast().Arg, sc, out)
	case n.GetFuncCall() != nil:
		for _, a := range n.GetFuncCall().Args {
			out = columnsIn(a, sc, out)
		}
	case n.GetNamedArgExpr() != nil:
		out = columnsIn(n.GetNamedArgExpr().Arg, sc, out)
	case n.GetAExpr() != nil:
		out = columnsIn(n.GetAExpr().Lexpr, sc, out)
		out = columnsIn(n.GetAExpr().Rexpr, sc, out)
	case n.GetCoalesceExpr() != nil:
		for _, a := range n.GetCoalesceExpr().Args {
			out = columnsIn(a, sc, out)
		}
	case n.GetMinMaxExpr() != nil:
		for _, a := range n.GetMinMaxExpr().Args {
			out = columnsIn(a, sc, out)
		}
	case n.GetCaseExpr() != nil:
		ce := n.GetCaseExpr()
		out = columnsIn(ce.Arg, sc, out)
		for _, wn := range ce.Args {
			if cw := wn.GetCaseWhen(); cw != nil {
				out = columnsIn(cw.Expr, sc, out)
				out = columnsIn(cw.Result, sc, out)
			}
		}
		out = columnsIn(ce.Defresult, sc, out)
	case n.GetList() != nil:
		for _, a := range n.GetList().Items {
			out = columnsIn(a, sc, out)
		}
	case n.GetBoolExpr() != nil:
		for _, a := range n.GetBoolExpr().Args {
			out = columnsIn(a, sc, out)
		}
	case n.GetAIndirection() != nil:
		out = columnsIn(n.GetAIndirection().Arg, sc, out)
	case n.GetAArrayExpr() != nil:
		for _, a := range n.GetAArrayExpr().Elements {
			out = columnsIn(a, sc, out)
		}
	case n.GetNullTest() != nil:
		out = columnsIn(n.GetNullTest().Arg, sc, out)
	}
	return out
}

// columnSide looks at one side of a comparison: a column, possibly inside an expression. nil when
// the side holds no column of this query level or an outer one.
func columnSide(n *pg_query.Node, sc *scope) (*colInfo, *workload.Wrapper) {
	if cr := n.GetColumnRef(); cr != nil {
		if c, ok := resolve(cr, sc); ok {
			return &c, nil
		}
		return nil, nil
	}
	if n.GetSubLink() != nil {
		return nil, nil
	}
	cols := columnsIn(n, sc, nil)
	if len(cols) == 0 {
		return nil, nil
	}
	wr := &workload.Wrapper{Expr: exprText(n)}
	switch {
	case n.GetTypeCast() != nil:
		wr.Kind, wr.Name = workload.WrapCast, typeName(n.GetTypeCast().TypeName)
	case n.GetAExpr() != nil:
		wr.Kind, wr.Name = workload.WrapArithmetic, opName(n.GetAExpr().Name)
	case n.GetFuncCall() != nil:
		wr.Kind, wr.Name = workload.WrapFunction, funcName(n.GetFuncCall().Funcname)
	case n.GetCoalesceExpr() != nil:
		wr.Kind, wr.Name = workload.WrapFunction, "coalesce"
	default:
		wr.Kind, wr.Name = workload.WrapFunction, "expression"
	}
	for _, c := range cols[1:] {
		wr.OtherColumns = append(wr.OtherColumns, c.ref)
	}
	return &cols[0], wr
}

// where walks a boolean condition. group is the OR group the condition belongs to (0: none).
func (w *walker) where(n *pg_query.Node, sc *scope, group int, negated bool, clause string) {
	switch {
	case n == nil:
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		switch be.Boolop {
		case pg_query.BoolExprType_OR_EXPR:
			g := group
			if g == 0 {
				w.orGroups++
				g = w.orGroups
			}
			for _, a := range be.Args {
				w.where(a, sc, g, negated, clause)
			}
		case pg_query.BoolExprType_NOT_EXPR:
			for _, a := range be.Args {
				w.where(a, sc, group, !negated, clause)
			}
		default:
			for _, a := range be.Args {
				w.where(a, sc, group, negated, clause)
			}
		}
	case n.GetAExpr() != nil:
		w.aexpr(n.GetAExpr(), sc, group, negated, clause)
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		c, wr := columnSide(nt.Arg, sc)
		if c == nil {
			w.expr(nt.Arg, sc)
			return
		}
		op := workload.OpIsNull
		text := "IS NULL"
		if nt.Nulltesttype == pg_query.NullTestType_IS_NOT_NULL {
			op, text = workload.OpNotNull, "IS NOT NULL"
		}
		w.add(workload.Predicate{Column: c.ref, Op: op, Operator: text, Wrapper: wr, OrGroup: group, Negated: negated, Clause: clause})
	case n.GetBooleanTest() != nil:
		bt := n.GetBooleanTest()
		c, wr := columnSide(bt.Arg, sc)
		if c == nil {
			return
		}
		val := "true"
		switch bt.Booltesttype {
		case pg_query.BoolTestType_IS_FALSE, pg_query.BoolTestType_IS_NOT_TRUE:
			val = "false"
		}
		w.add(workload.Predicate{Column: c.ref, Op: workload.OpEq, Operator: "=", Wrapper: wr,
			Value: &workload.Operand{Kind: workload.OperandConst, Text: val, Consts: []string{val}}, OrGroup: group, Negated: negated, Clause: clause})
	case n.GetColumnRef() != nil:
		// A bare boolean column: WHERE active.
		if c, ok := resolve(n.GetColumnRef(), sc); ok {
			val := "true"
			if negated {
				val = "false"
			}
			w.add(workload.Predicate{Column: c.ref, Op: workload.OpEq, Operator: "=",
				Value: &workload.Operand{Kind: workload.OperandConst, Text: val, Consts: []string{val}}, OrGroup: group, Clause: clause})
		}
	case n.GetSubLink() != nil:
		sl := n.GetSubLink()
		if sl.SubLinkType == pg_query.SubLinkType_ANY_SUBLINK && sl.Testexpr != nil {
			if c, wr := columnSide(sl.Testexpr, sc); c != nil {
				w.add(workload.Predicate{Column: c.ref, Op: workload.OpInSubquery, Operator: "IN", Wrapper: wr,
					Value: &workload.Operand{Kind: workload.OperandSubquery, Text: "(SELECT …)"}, OrGroup: group, Negated: negated, Clause: clause})
			}
		}
		w.sublink(sl, sc)
	default:
		w.expr(n, sc)
	}
}

func (w *walker) add(p workload.Predicate) {
	w.st.Predicates = append(w.st.Predicates, p)
}

// commuted flips a comparison so the column can be written on the left.
var commuted = map[string]string{"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>", "!=": "!=", "@>": "<@", "<@": "@>", "&&": "&&"}

func (w *walker) aexpr(e *pg_query.A_Expr, sc *scope, group int, negated bool, clause string) {
	op := opName(e.Name)
	base := workload.Predicate{OrGroup: group, Negated: negated, Clause: clause, Operator: op}
	switch e.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP, pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		lc, lw := columnSide(e.Lexpr, sc)
		rc, rw := columnSide(e.Rexpr, sc)
		classify := func(o string) workload.PredicateOp {
			switch e.Kind {
			case pg_query.A_Expr_Kind_AEXPR_DISTINCT:
				return workload.OpNe
			case pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
				return workload.OpEq
			}
			return workload.OpFromOperator(o)
		}
		switch {
		case lc != nil && rc != nil && lw == nil && rw == nil && op == "=" && (lc.entry != rc.entry || lc.entry == nil):
			cl := clause
			if lc.outer || rc.outer {
				cl = "correlated"
			}
			w.st.Joins = append(w.st.Joins, workload.JoinKey{Left: lc.ref, Right: rc.ref, Clause: cl})
		case lc != nil:
			p := base
			p.Column, p.Wrapper, p.Op = lc.ref, lw, classify(op)
			p.Value = w.operand(e.Rexpr, sc)
			w.add(p)
		case rc != nil:
			p := base
			if c, ok := commuted[op]; ok {
				p.Operator = c
			}
			p.Column, p.Wrapper, p.Op = rc.ref, rw, classify(p.Operator)
			p.Value = w.operand(e.Lexpr, sc)
			w.add(p)
		default:
			w.expr(e.Lexpr, sc)
			w.expr(e.Rexpr, sc)
		}
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_OP_ALL, pg_query.A_Expr_Kind_AEXPR_IN:
		c, wr := columnSide(e.Lexpr, sc)
		if c == nil {
			w.expr(e.Rexpr, sc)
			return
		}
		p := base
		p.Column, p.Wrapper = c.ref, wr
		switch {
		case op == "=" && e.Kind != pg_query.A_Expr_Kind_AEXPR_OP_ALL:
			p.Op = workload.OpIn
		case (op == "<>" || op == "!=") && e.Kind != pg_query.A_Expr_Kind_AEXPR_OP_ANY:
			p.Op = workload.OpNe
		default:
			p.Op = workload.OpFromOperator(op)
		}
		p.Value = w.operand(e.Rexpr, sc)
		w.add(p)
	case pg_query.A_Expr_Kind_AEXPR_LIKE, pg_query.A_Expr_Kind_AEXPR_ILIKE:
		c, wr := columnSide(e.Lexpr, sc)
		if c == nil {
			w.expr(e.Rexpr, sc)
			return
		}
		p := base
		p.Column, p.Wrapper = c.ref, wr
		p.CaseInsensitive = e.Kind == pg_query.A_Expr_Kind_AEXPR_ILIKE
		if strings.HasPrefix(op, "!") {
			p.Negated = !p.Negated
		}
		p.Value = w.operand(e.Rexpr, sc)
		p.Op = likeShape(e.Rexpr)
		w.add(p)
	case pg_query.A_Expr_Kind_AEXPR_SIMILAR:
		if c, wr := columnSide(e.Lexpr, sc); c != nil {
			p := base
			p.Column, p.Wrapper, p.Op, p.Operator = c.ref, wr, workload.OpRegex, "SIMILAR TO"
			p.Value = w.operand(e.Rexpr, sc)
			w.add(p)
		}
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		c, wr := columnSide(e.Lexpr, sc)
		if c == nil {
			w.expr(e.Rexpr, sc)
			return
		}
		p := base
		p.Column, p.Wrapper, p.Op, p.Operator = c.ref, wr, workload.OpBetween, "BETWEEN"
		if e.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN || e.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			p.Negated = !p.Negated
		}
		p.Value = w.operand(e.Rexpr, sc)
		w.add(p)
	default:
		w.expr(e.Lexpr, sc)
		w.expr(e.Rexpr, sc)
	}
}

// likeShape classifies a LIKE pattern: a literal or a concatenation is read for its first
// character; a bare parameter is unknown until run time.
func likeShape(n *pg_query.Node) workload.PredicateOp {
	for n.GetTypeCast() != nil {
		n = n.GetTypeCast().Arg
	}
	switch {
	case n.GetAConst() != nil:
		s := n.GetAConst().GetSval().GetSval()
		if strings.HasPrefix(s, "%") || strings.HasPrefix(s, "_") {
			return workload.OpLikeWildcard
		}
		if s == "" {
			return workload.OpLikePrefix
		}
		return workload.OpLikePrefix
	case n.GetAExpr() != nil && opName(n.GetAExpr().Name) == "||":
		// '%' || $1 starts with a wildcard; $1 || '%' starts with whatever $1 is.
		left := n.GetAExpr().Lexpr
		for left.GetAExpr() != nil && opName(left.GetAExpr().Name) == "||" {
			left = left.GetAExpr().Lexpr
		}
		if left.GetAConst() != nil {
			return likeShape(left)
		}
		return workload.OpLikeParam
	case n.GetParamRef() != nil:
		return workload.OpLikeParam
	}
	return workload.OpLikeParam
}

// operand describes the value side of a predicate (and walks any subquery in it).
func (w *walker) operand(n *pg_query.Node, sc *scope) *workload.Operand {
	if n == nil {
		return nil
	}
	o := &workload.Operand{Text: exprText(n)}
	inner := n
	for inner.GetTypeCast() != nil {
		inner = inner.GetTypeCast().Arg
	}
	switch {
	case inner.GetParamRef() != nil:
		o.Kind = workload.OperandParam
	case inner.GetAConst() != nil:
		o.Kind = workload.OperandConst
	case inner.GetList() != nil || inner.GetAArrayExpr() != nil:
		o.Kind = workload.OperandList
	case inner.GetColumnRef() != nil:
		o.Kind = workload.OperandColumn
		if c, ok := resolve(inner.GetColumnRef(), sc); ok {
			o.Column = &c.ref
		}
	case inner.GetSubLink() != nil:
		o.Kind = workload.OperandSubquery
		w.sublink(inner.GetSubLink(), sc)
		return o
	default:
		o.Kind = workload.OperandExpr
		w.expr(inner, sc)
	}
	o.Params, o.Consts = paramsAndConsts(n, nil, nil)
	return o
}

func paramsAndConsts(n *pg_query.Node, params []int, consts []string) ([]int, []string) {
	switch {
	case n == nil:
	case n.GetParamRef() != nil:
		params = append(params, int(n.GetParamRef().Number))
	case n.GetAConst() != nil:
		if s, ok := constValue(n.GetAConst()); ok {
			consts = append(consts, s)
		}
	case n.GetTypeCast() != nil:
		return paramsAndConsts(n.GetTypeCast().Arg, params, consts)
	case n.GetList() != nil:
		for _, a := range n.GetList().Items {
			params, consts = paramsAndConsts(a, params, consts)
		}
	case n.GetAArrayExpr() != nil:
		for _, a := range n.GetAArrayExpr().Elements {
			params, consts = paramsAndConsts(a, params, consts)
		}
	case n.GetFuncCall() != nil:
		for _, a := range n.GetFuncCall().Args {
			params, consts = paramsAndConsts(a, params, consts)
		}
	case n.GetNamedArgExpr() != nil:
		return paramsAndConsts(n.GetNamedArgExpr().Arg, params, consts)
	case n.GetAExpr() != nil:
		params, consts = paramsAndConsts(n.GetAExpr().Lexpr, params, consts)
		params, consts = paramsAndConsts(n.GetAExpr().Rexpr, params, consts)
	case n.GetCoalesceExpr() != nil:
		for _, a := range n.GetCoalesceExpr().Args {
			params, consts = paramsAndConsts(a, params, consts)
		}
	}
	return params, consts
}

// expr walks an expression only for the subqueries inside it.
func (w *walker) expr(n *pg_query.Node, sc *scope) {
	switch {
	case n == nil:
	case n.GetSubLink() != nil:
		w.sublink(n.GetSubLink(), sc)
	case n.GetFuncCall() != nil:
		for _, a := range n.GetFuncCall().Args {
			w.expr(a, sc)
		}
	case n.GetTypeCast() != nil:
		w.expr(n.GetTypeCast().Arg, sc)
	case n.GetAExpr() != nil:
		w.expr(n.GetAExpr().Lexpr, sc)
		w.expr(n.GetAExpr().Rexpr, sc)
	case n.GetBoolExpr() != nil:
		for _, a := range n.GetBoolExpr().Args {
			w.expr(a, sc)
		}
	case n.GetCoalesceExpr() != nil:
		for _, a := range n.GetCoalesceExpr().Args {
			w.expr(a, sc)
		}
	case n.GetCaseExpr() != nil:
		ce := n.GetCaseExpr()
		w.expr(ce.Arg, sc)
		for _, wn := range ce.Args {
			if cw := wn.GetCaseWhen(); cw != nil {
				w.expr(cw.Expr, sc)
				w.expr(cw.Result, sc)
			}
		}
		w.expr(ce.Defresult, sc)
	case n.GetList() != nil:
		for _, a := range n.GetList().Items {
			w.expr(a, sc)
		}
	case n.GetRowExpr() != nil:
		for _, a := range n.GetRowExpr().Args {
			w.expr(a, sc)
		}
	}
}

func (w *walker) sublink(sl *pg_query.SubLink, sc *scope) {
	if sub := sl.Subselect.GetSelectStmt(); sub != nil {
		w.selectStmt(sub, sc)
	}
}

var aggregates = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true, "array_agg": true,
	"string_agg": true, "bool_and": true, "bool_or": true, "every": true, "json_agg": true,
	"jsonb_agg": true, "json_object_agg": true, "jsonb_object_agg": true, "percentile_cont": true,
	"percentile_disc": true, "mode": true, "stddev": true, "variance": true,
}

// selectTarget records the columns a select-list entry reads.
func (w *walker) selectTarget(n *pg_query.Node, sc *scope) {
	if cr := n.GetColumnRef(); cr != nil {
		for _, f := range cr.Fields {
			if f.GetAStar() != nil {
				w.st.SelectStar = true
				return
			}
		}
	}
	for _, c := range columnsIn(n, sc, nil) {
		if !c.outer && !containsColumn(w.st.Selected, c.ref) {
			w.st.Selected = append(w.st.Selected, c.ref)
		}
	}
	if hasAggregate(n) {
		w.st.Aggregates = true
	}
	w.expr(n, sc)
}

func hasAggregate(n *pg_query.Node) bool {
	switch {
	case n == nil:
		return false
	case n.GetFuncCall() != nil:
		fc := n.GetFuncCall()
		if fc.AggStar || aggregates[funcName(fc.Funcname)] {
			return fc.Over == nil
		}
		for _, a := range fc.Args {
			if hasAggregate(a) {
				return true
			}
		}
	case n.GetTypeCast() != nil:
		return hasAggregate(n.GetTypeCast().Arg)
	case n.GetAExpr() != nil:
		return hasAggregate(n.GetAExpr().Lexpr) || hasAggregate(n.GetAExpr().Rexpr)
	case n.GetCoalesceExpr() != nil:
		for _, a := range n.GetCoalesceExpr().Args {
			if hasAggregate(a) {
				return true
			}
		}
	}
	return false
}

func containsColumn(list []workload.ColumnRef, c workload.ColumnRef) bool {
	for _, x := range list {
		if x.Table == c.Table && x.Column == c.Column {
			return true
		}
	}
	return false
}

// sortKeys records ORDER BY (group false) or GROUP BY (group true) keys.
func (w *walker) sortKeys(list []*pg_query.Node, sc *scope, group bool) {
	for _, n := range list {
		key := workload.SortKey{}
		expr := n
		if sb := n.GetSortBy(); sb != nil {
			expr = sb.Node
			key.Desc = sb.SortbyDir == pg_query.SortByDir_SORTBY_DESC
			switch sb.SortbyNulls {
			case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
				t := true
				key.NullsFirst = &t
			case pg_query.SortByNulls_SORTBY_NULLS_LAST:
				f := false
				key.NullsFirst = &f
			}
		}
		expr = targetFor(expr, sc, group)
		key.Expr = exprText(expr)
		if cr := expr.GetColumnRef(); cr != nil {
			if c, ok := resolve(cr, sc); ok && !c.outer {
				ref := c.ref
				key.Column = &ref
			}
		} else {
			w.expr(expr, sc)
		}
		if group {
			w.st.GroupBy = append(w.st.GroupBy, key)
		} else {
			w.st.OrderBy = append(w.st.OrderBy, key)
		}
	}
}

// targetFor resolves ORDER BY 1 / GROUP BY 1 and, for ORDER BY, an output-column name to the
// select-list expression it names.
func targetFor(n *pg_query.Node, sc *scope, group bool) *pg_query.Node {
	if c := n.GetAConst(); c != nil {
		if iv, ok := c.Val.(*pg_query.A_Const_Ival); ok {
			i := int(iv.Ival.GetIval())
			if i >= 1 && i <= len(sc.targets) {
				return sc.targets[i-1].Val
			}
		}
		return n
	}
	if cr := n.GetColumnRef(); cr != nil && !group && len(cr.Fields) == 1 {
		name := cr.Fields[0].GetString_().GetSval()
		for _, t := range sc.targets {
			if t.Name == name {
				return t.Val
			}
		}
	}
	return n
}

func bound(n *pg_query.Node) *workload.Bound {
	if n == nil {
		return nil
	}
	for n.GetTypeCast() != nil {
		n = n.GetTypeCast().Arg
	}
	switch {
	case n.GetParamRef() != nil:
		return &workload.Bound{Param: int(n.GetParamRef().Number), Value: -1}
	case n.GetAConst() != nil:
		c := n.GetAConst()
		if c.Isnull {
			return nil // LIMIT ALL / LIMIT NULL
		}
		if iv, ok := c.Val.(*pg_query.A_Const_Ival); ok {
			return &workload.Bound{Value: int64(iv.Ival.GetIval())}
		}
	}
	return &workload.Bound{Value: -1}
}

func lockingText(lc *pg_query.LockingClause) string {
	s := "FOR UPDATE"
	switch lc.Strength {
	case pg_query.LockClauseStrength_LCS_FORKEYSHARE:
		s = "FOR KEY SHARE"
	case pg_query.LockClauseStrength_LCS_FORSHARE:
		s = "FOR SHARE"
	case pg_query.LockClauseStrength_LCS_FORNOKEYUPDATE:
		s = "FOR NO KEY UPDATE"
	}
	switch lc.WaitPolicy {
	case pg_query.LockWaitPolicy_LockWaitSkip:
		s += " SKIP LOCKED"
	case pg_query.LockWaitPolicy_LockWaitError:
		s += " NOWAIT"
	}
	return s
}
