// Package query turns SQL text into pgtune's own typed model of a statement (workload.Statement):
// its kind, fingerprint, tables with aliases and CTEs resolved, classified column predicates,
// join keys, sort and group keys, LIMIT/OFFSET and the columns it writes. It also reads pg_dump
// schema files into dbstate's catalog types (schema.go).
//
// It is the only package that imports pg_query_go (the PostgreSQL 17 parser, compiled through
// cgo), so every other package builds without that cost and never sees the parser's syntax tree.
package query

import (
	"errors"
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/workload"
)

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

// Parse models one statement. The text is parsed once; the fingerprint comes from the parser's
// own fingerprinting, so it matches pganalyze's and pg_query's everywhere.
func Parse(sql string) (*workload.Statement, error) {
	return ParseWith(sql, nil)
}

// Views are the database's views, parsed once (NewViews), for ParseWith: a statement that
// reads a view is modelled as reading the view's tables, through the view as the planner plans
// (see transparent). Safe for concurrent use once built.
type Views struct {
	byKey map[string]*pg_query.SelectStmt // "schema.name", and "name" where only one schema has it
}

// NewViews parses the views' definitions; a definition that does not parse as one SELECT is
// left out (the statement then reads an unknown relation, as before).
func NewViews(views []dbstate.View) *Views {
	v := &Views{byKey: map[string]*pg_query.SelectStmt{}}
	names := map[string]int{}
	for _, view := range views {
		names[view.Name]++
	}
	for _, view := range views {
		tree, err := pg_query.Parse(view.Definition)
		if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].GetStmt().GetSelectStmt() == nil {
			continue
		}
		sel := tree.Stmts[0].GetStmt().GetSelectStmt()
		v.byKey[view.Key()] = sel
		if names[view.Name] == 1 {
			v.byKey[view.Name] = sel
		}
	}
	return v
}

func (v *Views) lookup(key string) *pg_query.SelectStmt {
	if v == nil {
		return nil
	}
	return v.byKey[key]
}

// ParseWith is Parse, seeing through the given views (nil: none).
func ParseWith(sql string, views *Views) (*workload.Statement, error) {
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
	st := &workload.Statement{Fingerprint: fp}
	w := &walker{st: st, views: views}
	root := tree.Stmts[0].GetStmt()
	st.Kind = w.statement(root, nil)
	if st.Kind == workload.KindUtility {
		// DDL is rare in a workload; the parser's summary names its tables well enough.
		if err := utilityTables(sql, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// Fingerprint returns the statement's fingerprint (see workload.Statement.Fingerprint).
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

func utilityTables(sql string, st *workload.Statement) error {
	sum, err := pg_query.Summary(sql, -1)
	if err != nil {
		return parseError(err)
	}
	seen := map[workload.TableRef]bool{}
	for _, t := range sum.Tables {
		access := workload.AccessRead
		switch t.Context {
		case pg_query.SummaryResult_DML:
			access = workload.AccessWrite
		case pg_query.SummaryResult_DDL:
			access = workload.AccessDDL
		}
		ref := workload.TableRef{Schema: t.SchemaName, Name: t.TableName, Access: access}
		if !seen[ref] {
			seen[ref] = true
			st.Tables = append(st.Tables, ref)
		}
	}
	return nil
}
