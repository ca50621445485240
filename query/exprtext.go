package query

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// exprText renders an expression as SQL for evidence and rewrite hints. It covers the node types
// predicates are made of; anything else prints as "…". (pg_query's deparser needs a whole
// statement and costs a parse's worth of time; this is a few string joins.)
func exprText(n *pg_query.Node) string {
	var b strings.Builder
	writeExpr(&b, n, 0)
	return b.String()
}

func writeExpr(b *strings.Builder, n *pg_query.Node, depth int) {
	if depth > 32 {
		b.WriteString("…")
		return
	}
	depth++
	switch {
	case n == nil:
	case n.GetColumnRef() != nil:
		for i, f := range n.GetColumnRef().Fields {
			if i > 0 {
				b.WriteByte('.')
			}
			if f.GetAStar() != nil {
				b.WriteByte('*')
			} else {
				b.WriteString(quote.Ident(f.GetString_().GetSval()))
			}
		}
	case n.GetParamRef() != nil:
		b.WriteString("$" + strconv.Itoa(int(n.GetParamRef().Number)))
	case n.GetAConst() != nil:
		b.WriteString(constSQL(n.GetAConst()))
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		inner := tc.Arg
		if inner.GetAExpr() != nil || inner.GetBoolExpr() != nil {
			b.WriteByte('(')
			writeExpr(b, inner, depth)
			b.WriteByte(')')
		} else {
			writeExpr(b, inner, depth)
		}
		b.WriteString("::" + typeName(tc.TypeName))
	case n.GetFuncCall() != nil:
		fc := n.GetFuncCall()
		b.WriteString(funcName(fc.Funcname) + "(")
		if fc.AggStar {
			b.WriteByte('*')
		}
		if fc.AggDistinct {
			b.WriteString("DISTINCT ")
		}
		for i, a := range fc.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a, depth)
		}
		b.WriteByte(')')
	case n.GetNamedArgExpr() != nil:
		na := n.GetNamedArgExpr()
		b.WriteString(na.Name + " => ")
		writeExpr(b, na.Arg, depth)
	case n.GetAExpr() != nil:
		writeAExpr(b, n.GetAExpr(), depth)
	case n.GetList() != nil:
		b.WriteByte('(')
		for i, a := range n.GetList().Items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a, depth)
		}
		b.WriteByte(')')
	case n.GetAArrayExpr() != nil:
		b.WriteString("ARRAY[")
		for i, a := range n.GetAArrayExpr().Elements {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a, depth)
		}
		b.WriteByte(']')
	case n.GetCoalesceExpr() != nil:
		b.WriteString("coalesce(")
		for i, a := range n.GetCoalesceExpr().Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a, depth)
		}
		b.WriteByte(')')
	case n.GetSqlvalueFunction() != nil:
		b.WriteString(sqlValueFunction(n.GetSqlvalueFunction().Op))
	case n.GetSubLink() != nil:
		if n.GetSubLink().SubLinkType == pg_query.SubLinkType_EXISTS_SUBLINK {
			b.WriteString("EXISTS ")
		}
		b.WriteString("(SELECT …)")
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		sep := " AND "
		switch be.Boolop {
		case pg_query.BoolExprType_OR_EXPR:
			sep = " OR "
		case pg_query.BoolExprType_NOT_EXPR:
			b.WriteString("NOT ")
		}
		for i, a := range be.Args {
			if i > 0 {
				b.WriteString(sep)
			}
			writeExpr(b, a, depth)
		}
	case n.GetNullTest() != nil:
		writeExpr(b, n.GetNullTest().Arg, depth)
		if n.GetNullTest().Nulltesttype == pg_query.NullTestType_IS_NOT_NULL {
			b.WriteString(" IS NOT NULL")
		} else {
			b.WriteString(" IS NULL")
		}
	default:
		b.WriteString("…")
	}
}

func writeAExpr(b *strings.Builder, e *pg_query.A_Expr, depth int) {
	op := opName(e.Name)
	side := func(n *pg_query.Node) {
		if n.GetAExpr() != nil || n.GetBoolExpr() != nil {
			b.WriteByte('(')
			writeExpr(b, n, depth)
			b.WriteByte(')')
			return
		}
		writeExpr(b, n, depth)
	}
	switch e.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		if e.Lexpr != nil {
			side(e.Lexpr)
			b.WriteByte(' ')
		}
		b.WriteString(op + " ")
		side(e.Rexpr)
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_OP_ALL:
		side(e.Lexpr)
		kw := "ANY"
		if e.Kind == pg_query.A_Expr_Kind_AEXPR_OP_ALL {
			kw = "ALL"
		}
		b.WriteString(" " + op + " " + kw + "(")
		writeExpr(b, e.Rexpr, depth)
		b.WriteByte(')')
	case pg_query.A_Expr_Kind_AEXPR_IN:
		side(e.Lexpr)
		if op == "<>" {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN ")
		writeExpr(b, e.Rexpr, depth)
	case pg_query.A_Expr_Kind_AEXPR_LIKE, pg_query.A_Expr_Kind_AEXPR_ILIKE:
		side(e.Lexpr)
		kw := map[string]string{"~~": "LIKE", "!~~": "NOT LIKE", "~~*": "ILIKE", "!~~*": "NOT ILIKE"}[op]
		if kw == "" {
			kw = op
		}
		b.WriteString(" " + kw + " ")
		side(e.Rexpr)
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		side(e.Lexpr)
		if e.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN || e.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			b.WriteString(" NOT")
		}
		b.WriteString(" BETWEEN ")
		if l := e.Rexpr.GetList(); l != nil && len(l.Items) == 2 {
			side(l.Items[0])
			b.WriteString(" AND ")
			side(l.Items[1])
		} else {
			writeExpr(b, e.Rexpr, depth)
		}
	case pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		side(e.Lexpr)
		if e.Kind == pg_query.A_Expr_Kind_AEXPR_DISTINCT {
			b.WriteString(" IS DISTINCT FROM ")
		} else {
			b.WriteString(" IS NOT DISTINCT FROM ")
		}
		side(e.Rexpr)
	default:
		b.WriteString("…")
	}
}

func opName(names []*pg_query.Node) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1].GetString_().GetSval()
}

// funcName is a function's name without the pg_catalog schema the parser adds to some.
func funcName(names []*pg_query.Node) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if s := n.GetString_().GetSval(); s != "pg_catalog" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ".")
}

// typeNames maps the parser's internal type names to the ones people write.
var typeNames = map[string]string{
	"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
	"bool": "boolean", "bpchar": "char", "timestamptz": "timestamptz", "timestamp": "timestamp",
	"varchar": "varchar", "numeric": "numeric", "interval": "interval",
}

func typeName(tn *pg_query.TypeName) string {
	if tn == nil {
		return ""
	}
	name := funcName(tn.Names)
	if t, ok := typeNames[name]; ok {
		name = t
	}
	if len(tn.ArrayBounds) > 0 {
		name += "[]"
	}
	return name
}

// constValue is a literal's value as text (the string itself for strings); false for NULL.
func constValue(c *pg_query.A_Const) (string, bool) {
	if c.Isnull {
		return "", false
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.GetIval())), true
	case *pg_query.A_Const_Fval:
		return v.Fval.GetFval(), true
	case *pg_query.A_Const_Boolval:
		return strconv.FormatBool(v.Boolval.GetBoolval()), true
	case *pg_query.A_Const_Sval:
		return v.Sval.GetSval(), true
	case *pg_query.A_Const_Bsval:
		return v.Bsval.GetBsval(), true
	}
	return "", false
}

func constSQL(c *pg_query.A_Const) string {
	if c.Isnull {
		return "NULL"
	}
	s, _ := constValue(c)
	if _, ok := c.Val.(*pg_query.A_Const_Sval); ok {
		return quote.Literal(s)
	}
	return s
}

func sqlValueFunction(op pg_query.SQLValueFunctionOp) string {
	switch op {
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return "CURRENT_DATE"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:
		return "CURRENT_TIME"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return "CURRENT_TIMESTAMP"
	case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
		return "LOCALTIME"
	case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return "LOCALTIMESTAMP"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER:
		return "CURRENT_USER"
	case pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:
		return "SESSION_USER"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return "CURRENT_SCHEMA"
	}
	return "…"
}
