package workload

import (
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
)

// StatementKind is what a statement does.
type StatementKind string

// Statement kinds.
const (
	KindSelect  StatementKind = "select"
	KindInsert  StatementKind = "insert"
	KindUpdate  StatementKind = "update"
	KindDelete  StatementKind = "delete"
	KindMerge   StatementKind = "merge"
	KindUtility StatementKind = "utility" // DDL, SET, VACUUM, transaction control, ...
)

// Access is how a statement uses a table.
type Access string

// Table accesses.
const (
	AccessRead  Access = "read"
	AccessWrite Access = "write"
	AccessDDL   Access = "ddl"
)

// Statement is pgtune's typed model of one SQL statement: which tables it touches and how it
// reaches their rows. The query package builds it from PostgreSQL's own parser; everything else
// reads it without seeing the parser's syntax tree.
//
// Subqueries, CTE bodies and UNION branches are flattened into the same lists: every predicate,
// join key and sort key names the table its column belongs to, so a consumer asks "how is
// appointments reached" without walking nested query levels.
type Statement struct {
	Kind StatementKind `json:"kind"`
	// Fingerprint identifies the statement's shape: constants, comments, letter case of keywords
	// and the length of IN lists do not change it. pg_stat_statements rows with different queryids
	// but the same fingerprint are the same statement.
	Fingerprint string `json:"fingerprint"`
	// Tables lists every reference to a table, in the order they appear; a table referenced twice
	// (a self-join, a CTE reading what the statement writes) appears twice. CTEs and subqueries in
	// FROM are not tables and never appear.
	Tables []TableRef `json:"tables"`
	// Predicates are the column conditions of WHERE, JOIN ... ON and HAVING clauses, at every level.
	Predicates []Predicate `json:"predicates,omitempty"`
	// Joins are equalities between columns of two table references (JOIN ... ON, WHERE, USING, and
	// correlated subqueries such as EXISTS (... WHERE n.appointment_id = a.id)).
	Joins []JoinKey `json:"joins,omitempty"`
	// OrderBy and GroupBy hold the sort and grouping keys of every query level; ordinals
	// (ORDER BY 1) are resolved to the select-list entry they name.
	OrderBy []SortKey `json:"order_by,omitempty"`
	GroupBy []SortKey `json:"group_by,omitempty"`
	// Limit and Offset belong to the outermost query level that has them.
	Limit  *Bound `json:"limit,omitempty"`
	Offset *Bound `json:"offset,omitempty"`
	// Selected are the columns the select lists read (inside expressions and aggregates too);
	// SelectStar is set when a list holds * or t.*.
	Selected   []ColumnRef `json:"selected,omitempty"`
	SelectStar bool        `json:"select_star,omitempty"`
	// SetColumns are the columns an UPDATE (or INSERT ... ON CONFLICT DO UPDATE) writes.
	SetColumns []ColumnRef `json:"set_columns,omitempty"`
	// InsertColumns are the columns an INSERT names.
	InsertColumns []ColumnRef `json:"insert_columns,omitempty"`
	// Locking is the row-locking clause, e.g. "FOR UPDATE SKIP LOCKED".
	Locking string `json:"locking,omitempty"`
	// Aggregates is set when a select list uses an aggregate function (count, sum, ...).
	Aggregates bool `json:"aggregates,omitempty"`
}

// TableRef is one reference to a table.
type TableRef struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
	Alias  string `json:"alias,omitempty"`
	Access Access `json:"access"`
}

// Key names the table as written: "schema.name", or "name" when unqualified.
func (t TableRef) Key() string { return dbstate.QualifiedName(t.Schema, t.Name) }

// ColumnRef is a column of a table the statement references.
type ColumnRef struct {
	// Table is the table's Key(); empty when the column is unqualified and several tables are in
	// scope, in which case Candidates lists them and the catalog decides (see ResolveColumns).
	Table      string   `json:"table,omitempty"`
	Column     string   `json:"column"`
	Candidates []string `json:"candidates,omitempty"`
}

// String is "table.column" (or the bare column while unresolved).
func (c ColumnRef) String() string {
	if c.Table == "" {
		return c.Column
	}
	return c.Table + "." + c.Column
}

// PredicateOp classifies a condition by what an index can do with it.
type PredicateOp string

// Predicate classes.
const (
	OpEq      PredicateOp = "eq"          // =, IS NOT DISTINCT FROM, a bare boolean column
	OpIn      PredicateOp = "in"          // IN (list), = ANY(array)
	OpRange   PredicateOp = "range"       // <, <=, >, >=
	OpBetween PredicateOp = "between"     // BETWEEN a AND b
	OpIsNull  PredicateOp = "is_null"     // IS NULL
	OpNotNull PredicateOp = "is_not_null" // IS NOT NULL
	OpNe      PredicateOp = "ne"          // <>, NOT IN, IS DISTINCT FROM
	// LIKE and ILIKE, by the shape of their pattern.
	OpLikePrefix   PredicateOp = "like_prefix"           // 'abc%': a B-tree range scan can serve it
	OpLikeWildcard PredicateOp = "like_leading_wildcard" // '%abc', '%' || $1: no B-tree can
	OpLikeParam    PredicateOp = "like_parameter"        // $1: the pattern is only known at run time
	OpContains     PredicateOp = "contains"              // @>, <@, &&, ?, ?|, ?&, @@: GIN/GiST territory
	OpRegex        PredicateOp = "regex"                 // ~, ~*, SIMILAR TO
	OpInSubquery   PredicateOp = "in_subquery"           // col IN (SELECT ...), col = ANY (SELECT ...)
	OpOther        PredicateOp = "other"                 // any other operator
)

// Predicate is one condition on a column.
type Predicate struct {
	Column ColumnRef   `json:"column"`
	Op     PredicateOp `json:"op"`
	// Operator is the SQL operator as written ("=", "<", "~~*" for ILIKE, "@>"...), normalised so
	// the column is on the left: $1 < start_time is recorded as start_time > $1.
	Operator string `json:"operator"`
	// CaseInsensitive marks ILIKE.
	CaseInsensitive bool `json:"case_insensitive,omitempty"`
	// Wrapper is set when the column is inside an expression (lower(email), date(start_time),
	// start_time::date, start_time + interval): a plain index on the column cannot serve it.
	Wrapper *Wrapper `json:"wrapper,omitempty"`
	// Value is the other side of the comparison (absent for IS NULL and bare booleans).
	Value *Operand `json:"value,omitempty"`
	// OrGroup is 0 for a condition every row must meet (part of the top-level AND), and the same
	// positive number for the alternatives of one OR.
	OrGroup int `json:"or_group,omitempty"`
	// Negated is set under NOT.
	Negated bool `json:"negated,omitempty"`
	// Clause is where the condition sits: "where", "join" (JOIN ... ON) or "having".
	Clause string `json:"clause"`
}

// WrapperKind is how an expression hides a column.
type WrapperKind string

// Wrapper kinds.
const (
	WrapFunction   WrapperKind = "function"   // lower(email), date(start_time), date_trunc('day', t)
	WrapCast       WrapperKind = "cast"       // start_time::date, CAST(id AS text)
	WrapArithmetic WrapperKind = "arithmetic" // start_time + interval '1 day', price * 2, a || b
)

// Wrapper is the expression around a predicate's column.
type Wrapper struct {
	Kind WrapperKind `json:"kind"`
	// Name is the function name (lower), the cast's target type (date) or the operator (+).
	Name string `json:"name"`
	// Expr is the whole expression as SQL, e.g. "date(start_time)".
	Expr string `json:"expr"`
	// OtherColumns lists further columns inside the expression (start_time + duration_minutes).
	OtherColumns []ColumnRef `json:"other_columns,omitempty"`
}

// OperandKind is what a predicate compares its column with.
type OperandKind string

// Operand kinds.
const (
	OperandParam    OperandKind = "param"    // $1
	OperandConst    OperandKind = "const"    // 'pending', 42, true, NULL
	OperandList     OperandKind = "list"     // IN ('a', 'b'), BETWEEN's pair
	OperandColumn   OperandKind = "column"   // another column (joins are recorded in Joins too)
	OperandExpr     OperandKind = "expr"     // lower($2), now(), $1 - interval '1 day'
	OperandSubquery OperandKind = "subquery" // (SELECT ...)
)

// Operand is the value side of a predicate.
type Operand struct {
	Kind OperandKind `json:"kind"`
	// Text is the operand as SQL.
	Text string `json:"text"`
	// Params are the $n parameter numbers it uses.
	Params []int `json:"params,omitempty"`
	// Consts are the literal constants it holds, as text ('pending' is "pending"); these are the
	// constants the application always sends, which make partial indexes possible.
	Consts []string `json:"consts,omitempty"`
	// Column is set for OperandColumn.
	Column *ColumnRef `json:"column,omitempty"`
}

// JoinKey is an equality between columns of two table references.
type JoinKey struct {
	Left  ColumnRef `json:"left"`
	Right ColumnRef `json:"right"`
	// Clause is "join" (JOIN ... ON / USING), "where" or "correlated" (a subquery naming an outer
	// table).
	Clause string `json:"clause"`
}

// SortKey is an ORDER BY or GROUP BY key.
type SortKey struct {
	// Column is set when the key is a plain column; Expr holds the key as SQL either way.
	Column *ColumnRef `json:"column,omitempty"`
	Expr   string     `json:"expr"`
	Desc   bool       `json:"desc,omitempty"`
	// NullsFirst is set only when written out (NULLS FIRST / NULLS LAST).
	NullsFirst *bool `json:"nulls_first,omitempty"`
}

// Bound is a LIMIT or OFFSET value.
type Bound struct {
	// Param is the $n number when the value is a parameter (0 otherwise).
	Param int `json:"param,omitempty"`
	// Value is the constant when the value is a literal (-1 otherwise).
	Value int64 `json:"value"`
}

// Known reports whether the bound is a literal.
func (b *Bound) Known() bool { return b != nil && b.Param == 0 && b.Value >= 0 }

// ResolveColumns settles unqualified columns in multi-table statements: for every column whose
// Table is empty, has(table, column) is asked for each candidate, and the column takes the single
// candidate that has it. Columns no candidate (or several) has stay unresolved.
func (s *Statement) ResolveColumns(has func(table, column string) bool) {
	fix := func(c *ColumnRef) {
		if c.Table != "" || len(c.Candidates) == 0 {
			return
		}
		found := ""
		for _, t := range c.Candidates {
			if has(t, c.Column) {
				if found != "" {
					return // ambiguous: PostgreSQL would have refused it; leave it alone
				}
				found = t
			}
		}
		if found != "" {
			c.Table, c.Candidates = found, nil
		}
	}
	s.forEachColumn(fix)
}

// TableKeys returns the distinct tables the statement references, in order of first appearance.
func (s *Statement) TableKeys() []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range s.Tables {
		if k := t.Key(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Writes reports whether the statement writes table (by Key).
func (s *Statement) Writes(table string) bool {
	for _, t := range s.Tables {
		if t.Key() == table && t.Access == AccessWrite {
			return true
		}
	}
	return false
}

// OpFromOperator maps a comparison operator (column on the left) to its class; the query package
// and the schema reader share it.
func OpFromOperator(op string) PredicateOp {
	switch strings.ToLower(op) {
	case "=":
		return OpEq
	case "<", "<=", ">", ">=":
		return OpRange
	case "<>", "!=":
		return OpNe
	case "@>", "<@", "&&", "?", "?|", "?&", "@@", "@?":
		return OpContains
	case "~", "~*", "!~", "!~*":
		return OpRegex
	}
	return OpOther
}

// TextProblem names why a statement text could not be modelled. The names follow the
// placeholders pganalyze uses, so a DBA reads the same words in both tools.
type TextProblem string

// Text problems.
const (
	TextOK TextProblem = ""
	// TextUnavailable: pg_stat_statements returned no text (its text file was being rewritten or
	// could not be read).
	TextUnavailable TextProblem = "query text unavailable"
	// TextHidden: another role's statement, shown as <insufficient privilege>.
	TextHidden TextProblem = "insufficient privilege"
	// TextTruncated: the text was cut short (an export or log limit) and no longer parses.
	TextTruncated TextProblem = "truncated query"
	// TextUnparsable: PostgreSQL's parser rejects the text.
	TextUnparsable TextProblem = "unparsable query"
	// TextNotOneStatement: the text holds several statements (or none).
	TextNotOneStatement TextProblem = "not one statement"
)

// RenameTables rewrites every table name the statement's columns and table references carry,
// e.g. to the catalog's "schema.name".
func (s *Statement) RenameTables(rename func(key string) (schema, name string, ok bool)) {
	key := func(k string) string {
		if sch, n, ok := rename(k); ok {
			return dbstate.QualifiedName(sch, n)
		}
		return k
	}
	for i := range s.Tables {
		if sch, n, ok := rename(s.Tables[i].Key()); ok {
			s.Tables[i].Schema, s.Tables[i].Name = sch, n
		}
	}
	s.forEachColumn(func(c *ColumnRef) {
		if c.Table != "" {
			c.Table = key(c.Table)
		}
		for i := range c.Candidates {
			c.Candidates[i] = key(c.Candidates[i])
		}
	})
}

// forEachColumn calls fn on every column reference of the statement.
func (s *Statement) forEachColumn(fn func(*ColumnRef)) {
	for i := range s.Predicates {
		p := &s.Predicates[i]
		fn(&p.Column)
		if p.Wrapper != nil {
			for j := range p.Wrapper.OtherColumns {
				fn(&p.Wrapper.OtherColumns[j])
			}
		}
		if p.Value != nil && p.Value.Column != nil {
			fn(p.Value.Column)
		}
	}
	for i := range s.Joins {
		fn(&s.Joins[i].Left)
		fn(&s.Joins[i].Right)
	}
	for _, keys := range [][]SortKey{s.OrderBy, s.GroupBy} {
		for i := range keys {
			if keys[i].Column != nil {
				fn(keys[i].Column)
			}
		}
	}
	for _, cols := range [][]ColumnRef{s.Selected, s.SetColumns, s.InsertColumns} {
		for i := range cols {
			fn(&cols[i])
		}
	}
}
