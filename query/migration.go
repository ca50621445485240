package query

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/bookedbarber/pgtune/workload"
)

// ParseMigration splits a migration file into statements and models the ones index work cares
// about. An error names the line that does not parse.
func ParseMigration(sql string) ([]workload.MigrationStatement, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		pe := parseError(err).(*ParseError)
		return nil, &SchemaError{Line: lineOf(sql, pe.Position), Message: pe.Message}
	}
	b := &schemaBuilder{s: &Schema{}, tables: map[string]int{}, version: tree.Version}
	var out []workload.MigrationStatement
	for _, raw := range tree.Stmts {
		start := int(raw.StmtLocation)
		end := start + int(raw.StmtLen)
		if raw.StmtLen == 0 || end > len(sql) {
			end = len(sql)
		}
		text := strings.TrimSpace(sql[start:end])
		// The statement's own text starts after any comments before it.
		lead := len(sql[start:end]) - len(strings.TrimLeft(sql[start:end], " \t\r\n"))
		ms := workload.MigrationStatement{Line: strings.Count(sql[:start+lead], "\n") + 1, Kind: "other", Text: text}
		n := raw.Stmt
		switch {
		case n.GetIndexStmt() != nil:
			is := n.GetIndexStmt()
			ms.Kind, ms.Concurrent, ms.IfExists = "create_index", is.Concurrent, is.IfNotExists
			ms.Only = is.Relation != nil && !is.Relation.Inh
			ms.Unqualified = is.Relation != nil && is.Relation.Schemaname == ""
			ms.Unnamed = is.Idxname == ""
			before := len(b.s.Indexes)
			b.createIndex(n, is)
			if len(b.s.Indexes) > before {
				ix := b.s.Indexes[len(b.s.Indexes)-1]
				ms.Index = &ix
			}
			for _, p := range is.IndexParams {
				if e := p.GetIndexElem(); e != nil && e.Expr != nil {
					ms.Functions = append(ms.Functions, functionsIn(e.Expr)...)
				}
			}
			ms.Functions = append(ms.Functions, functionsIn(is.WhereClause)...)
		case n.GetDropStmt() != nil && n.GetDropStmt().RemoveType == pg_query.ObjectType_OBJECT_INDEX:
			ds := n.GetDropStmt()
			ms.Kind, ms.Concurrent, ms.IfExists = "drop_index", ds.Concurrent, ds.MissingOk
			for _, o := range ds.Objects {
				var parts []string
				for _, it := range o.GetList().GetItems() {
					parts = append(parts, it.GetString_().GetSval())
				}
				if len(parts) == 1 {
					parts = append([]string{"public"}, parts...)
				}
				ms.Drops = append(ms.Drops, strings.Join(parts, "."))
			}
		case n.GetAlterTableStmt() != nil && n.GetAlterTableStmt().Objtype == pg_query.ObjectType_OBJECT_INDEX:
			at := n.GetAlterTableStmt()
			for _, c := range at.Cmds {
				cmd := c.GetAlterTableCmd()
				if cmd == nil || cmd.Subtype != pg_query.AlterTableType_AT_AttachPartition {
					continue
				}
				if pc := cmd.Def.GetPartitionCmd(); pc != nil && pc.Name != nil && at.Relation != nil {
					ps, pn := qualified(at.Relation)
					cs, cn := qualified(pc.Name)
					ms.Kind, ms.Attach = "attach_index", [2]string{ps + "." + pn, cs + "." + cn}
				}
			}
		case n.GetReindexStmt() != nil:
			ms.Kind = "reindex"
			for _, p := range n.GetReindexStmt().Params {
				if d := p.GetDefElem(); d != nil && d.Defname == "concurrently" {
					ms.Concurrent = true
				}
			}
		case n.GetCreateStmt() != nil:
			schema, name := qualified(n.GetCreateStmt().Relation)
			ms.Kind, ms.Table = "create_table", schema+"."+name
			ms.Partitioned = n.GetCreateStmt().Partspec != nil
		case n.GetCreateExtensionStmt() != nil:
			ms.Kind, ms.Extension = "create_extension", n.GetCreateExtensionStmt().Extname
		case n.GetVacuumStmt() != nil:
			ms.Kind = "vacuum"
		}
		out = append(out, ms)
	}
	return out, nil
}

// functionsIn lists the functions an expression calls.
func functionsIn(n *pg_query.Node) []string {
	var out []string
	var walk func(n *pg_query.Node)
	walk = func(n *pg_query.Node) {
		switch {
		case n == nil:
		case n.GetFuncCall() != nil:
			fc := n.GetFuncCall()
			name := strings.ToLower(funcName(fc.Funcname))
			if i := strings.LastIndexByte(name, '.'); i >= 0 {
				name = name[i+1:]
			}
			out = append(out, name)
			for _, a := range fc.Args {
				walk(a)
			}
		case n.GetSqlvalueFunction() != nil:
			out = append(out, strings.ToLower(sqlValueFunction(n.GetSqlvalueFunction().Op)))
		case n.GetAExpr() != nil:
			walk(n.GetAExpr().Lexpr)
			walk(n.GetAExpr().Rexpr)
		case n.GetBoolExpr() != nil:
			for _, a := range n.GetBoolExpr().Args {
				walk(a)
			}
		case n.GetTypeCast() != nil:
			walk(n.GetTypeCast().Arg)
		case n.GetNullTest() != nil:
			walk(n.GetNullTest().Arg)
		case n.GetList() != nil:
			for _, a := range n.GetList().Items {
				walk(a)
			}
		case n.GetCoalesceExpr() != nil:
			for _, a := range n.GetCoalesceExpr().Args {
				walk(a)
			}
		}
	}
	walk(n)
	return out
}
