package query

import (
	"regexp"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// typedParameter finds a typed literal whose literal pg_stat_statements replaced with a parameter:
// `interval '1 hour'` is stored as `interval $2`, which PostgreSQL's parser refuses (a type name
// takes a string constant, not a parameter), so the text could never be planned.
var typedParameter = regexp.MustCompile(`(?i)\b(interval|timestamp|timestamptz|date|time|timetz|numeric|decimal|int2|int4|int8|integer|bigint|smallint|boolean|bool|text|varchar|char|uuid|jsonb?|bytea|inet|cidr|real|float4|float8|money)\s+\$\d`)

// Plannable returns sql in a form PostgreSQL can PREPARE and EXPLAIN: a normalised text holding
// typed parameters (`interval $2`) is rewritten by the parser's own deparser, which writes them
// as casts (`$2::interval`). Any other text, and one that does not parse, is returned unchanged.
func Plannable(sql string) string {
	if !typedParameter.MatchString(sql) {
		return sql
	}
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.Stmts) != 1 {
		return sql
	}
	out, err := pg_query.Deparse(tree)
	if err != nil {
		return sql
	}
	return out
}
