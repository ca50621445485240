// Package query turns SQL text into pgtune's own typed model of a statement. It is the only
// package that imports pg_query_go (the PostgreSQL 17 parser, compiled through cgo), so every
// other package builds without that cost and never sees the parser's syntax tree.
package query

import (
	"errors"
	"fmt"
	"sort"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// Kind is what a statement does.
type Kind string

// Statement kinds.
const (
	KindSelect  Kind = "select"
	KindInsert  Kind = "insert"
	KindUpdate  Kind = "update"
	KindDelete  Kind = "delete"
	KindMerge   Kind = "merge"
	KindUtility Kind = "utility" // DDL, SET, VACUUM, transaction control, ...
)

// Access is how a statement uses a table.
type Access string

// Table accesses.
const (
	AccessRead  Access = "read"
	AccessWrite Access = "write"
	AccessDDL   Access = "ddl"
)

// Table is a relation a statement touches. CTE names are not tables and never appear.
type Table struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
	Access Access `json:"access"`
}

// Statement is the typed model of one SQL statement.
type Statement struct {
	Kind Kind `json:"kind"`
	// Fingerprint identifies the statement's shape: constants, comments, letter case of keywords
	// and the length of IN lists do not change it. pg_stat_statements rows with different queryids
	// but the same fingerprint are the same statement.
	Fingerprint string  `json:"fingerprint"`
	Tables      []Table `json:"tables"`
}

// ParseError is SQL the parser rejected.
type ParseError struct {
	Message string
	// Position is the 1-based character offset of the error, 0 when unknown.
	Position int
}

func (e *ParseError) Error() string {
	if e.Position > 0 {
		return fmt.Sprintf("syntax error at character %d: %s", e.Position, e.Message)
	}
	return "syntax error: " + e.Message
}

// ErrNotOneStatement is returned for text holding no statement, or several.
var ErrNotOneStatement = errors.New("text does not hold exactly one statement")

// Parse models one statement.
func Parse(sql string) (*Statement, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, parseError(err)
	}
	if len(tree.Stmts) != 1 {
		return nil, fmt.Errorf("%w (found %d)", ErrNotOneStatement, len(tree.Stmts))
	}
	fp, err := pg_query.Fingerprint(sql)
	if err != nil {
		return nil, parseError(err)
	}
	sum, err := pg_query.Summary(sql, -1)
	if err != nil {
		return nil, parseError(err)
	}
	st := &Statement{Kind: kindOf(tree.Stmts[0].GetStmt()), Fingerprint: fp}
	seen := map[Table]bool{}
	for _, t := range sum.Tables {
		tbl := Table{Schema: t.SchemaName, Name: t.TableName, Access: accessOf(t.Context)}
		if !seen[tbl] {
			seen[tbl] = true
			st.Tables = append(st.Tables, tbl)
		}
	}
	sort.Slice(st.Tables, func(i, j int) bool {
		a, b := st.Tables[i], st.Tables[j]
		if a.Schema+"."+a.Name != b.Schema+"."+b.Name {
			return a.Schema+"."+a.Name < b.Schema+"."+b.Name
		}
		return a.Access < b.Access
	})
	return st, nil
}

// Fingerprint returns the statement's fingerprint (see Statement.Fingerprint).
func Fingerprint(sql string) (string, error) {
	fp, err := pg_query.Fingerprint(sql)
	if err != nil {
		return "", parseError(err)
	}
	return fp, nil
}

func parseError(err error) error {
	var pe *parser.Error
	if errors.As(err, &pe) {
		return &ParseError{Message: pe.Message, Position: pe.Cursorpos}
	}
	return &ParseError{Message: err.Error()}
}

func kindOf(n *pg_query.Node) Kind {
	switch {
	case n.GetSelectStmt() != nil:
		return KindSelect
	case n.GetInsertStmt() != nil:
		return KindInsert
	case n.GetUpdateStmt() != nil:
		return KindUpdate
	case n.GetDeleteStmt() != nil:
		return KindDelete
	case n.GetMergeStmt() != nil:
		return KindMerge
	}
	return KindUtility
}

func accessOf(c pg_query.SummaryResult_Context) Access {
	switch c {
	case pg_query.SummaryResult_DML:
		return AccessWrite
	case pg_query.SummaryResult_DDL:
		return AccessDDL
	}
	return AccessRead
}
