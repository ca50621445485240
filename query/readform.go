package query

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// ReadForm is the statement as a query that only reads, for planning by a role that may SELECT
// but not write (EXPLAIN checks every privilege the statement needs, so pg_read_all_data cannot
// EXPLAIN an UPDATE, a DELETE or a SELECT ... FOR UPDATE). The read form finds the same rows the
// same way - the part indexes change:
//
//	UPDATE t SET c = $2 WHERE id = $1     SELECT t.c = $2 FROM t WHERE id = $1
//	DELETE FROM t USING u WHERE ...      SELECT 1 FROM t, u WHERE ...
//	SELECT ... FOR UPDATE SKIP LOCKED    SELECT ...
//
// Each SET becomes a comparison with its column, so every parameter keeps the type the
// statement gives it. ok is false when the statement already only reads, or has no such form.
func ReadForm(sql string) (string, bool) {
	if !mayWrite(sql) {
		return sql, false // a plain read: nothing to parse (most of a workload)
	}
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.Stmts) != 1 {
		return sql, false
	}
	one := &pg_query.Node_SelectStmt{SelectStmt: &pg_query.SelectStmt{}}
	sel := one.SelectStmt
	switch n := tree.Stmts[0].Stmt.Node.(type) {
	case *pg_query.Node_UpdateStmt:
		u := n.UpdateStmt
		if u.Relation == nil || u.WhereClause != nil && u.WhereClause.GetCurrentOfExpr() != nil {
			return sql, false
		}
		// The SET's column, qualified: the FROM list may hold another table with a column of
		// that name.
		qual := u.Relation.Relname
		if u.Relation.Alias != nil && u.Relation.Alias.Aliasname != "" {
			qual = u.Relation.Alias.Aliasname
		}
		for _, t := range u.TargetList {
			rt := t.GetResTarget()
			if rt == nil || rt.Val == nil || rt.Val.GetSetToDefault() != nil || rt.Val.GetMultiAssignRef() != nil || len(rt.Indirection) > 0 {
				return sql, false
			}
			col := pg_query.MakeColumnRefNode([]*pg_query.Node{pg_query.MakeStrNode(qual), pg_query.MakeStrNode(rt.Name)}, -1)
			eq := pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_OP, []*pg_query.Node{pg_query.MakeStrNode("=")}, col, rt.Val, -1)
			sel.TargetList = append(sel.TargetList, pg_query.MakeResTargetNodeWithVal(eq, -1))
		}
		sel.FromClause = append([]*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: u.Relation}}}, u.FromClause...)
		sel.WhereClause, sel.WithClause = u.WhereClause, u.WithClause
	case *pg_query.Node_DeleteStmt:
		d := n.DeleteStmt
		if d.Relation == nil || d.WhereClause != nil && d.WhereClause.GetCurrentOfExpr() != nil {
			return sql, false
		}
		sel.TargetList = []*pg_query.Node{pg_query.MakeResTargetNodeWithVal(pg_query.MakeAConstIntNode(1, -1), -1)}
		sel.FromClause = append([]*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: d.Relation}}}, d.UsingClause...)
		sel.WhereClause, sel.WithClause = d.WhereClause, d.WithClause
	case *pg_query.Node_SelectStmt:
		if len(n.SelectStmt.LockingClause) == 0 {
			return sql, false
		}
		n.SelectStmt.LockingClause = nil
		one = n
	default:
		return sql, false
	}
	tree.Stmts[0].Stmt = &pg_query.Node{Node: one}
	out, err := pg_query.Deparse(tree)
	if err != nil {
		return sql, false
	}
	return out, true
}

// mayWrite is false when sql cannot hold an UPDATE, a DELETE or a locking clause (FOR UPDATE,
// FOR SHARE, FOR KEY SHARE, FOR NO KEY UPDATE): none of the words appears, in any case. A text
// that holds them in a name or a string is parsed, which only costs time.
func mayWrite(sql string) bool {
	for _, w := range []string{"update", "delete", "for"} {
		if containsFold(sql, w) {
			return true
		}
	}
	return false
}

// containsFold reports whether s holds the lower-case ASCII word w in any case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for j < len(w) && s[i+j]|0x20 == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}
