package query

import (
	"regexp"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// typedParameter finds a typed literal whose literal pg_stat_statements replaced with a parameter:
// `interval '1 hour'` is stored as `interval $2`, which PostgreSQL's parser refuses (a type name
// takes a string constant, not a parameter), so the text could never be planned.
var typedParameter = regexp.MustCompile(`(?i)\b(interval|timestamp|timestamptz|date|time|timetz|numeric|decimal|int2|int4|int8|integer|bigint|smallint|boolean|bool|text|varchar|char|uuid|jsonb?|bytea|inet|cidr|real|float4|float8|money)\s+\$\d`)

// parameterTypes are typedParameter's type names: the words a parameter may follow.
var parameterTypes = map[string]bool{}

func init() {
	for _, n := range strings.Split("interval timestamp timestamptz date time timetz numeric decimal int2 int4 int8 integer bigint smallint boolean bool text varchar char uuid json jsonb bytea inet cidr real float4 float8 money", " ") {
		parameterTypes[n] = true
	}
}

// hasTypedParameter is typedParameter.MatchString without the regexp: a scan from each "$n"
// back over the blanks to the word before it. A 5,000-statement export spent a tenth of its
// time in the regexp's backtracker.
func hasTypedParameter(sql string) bool {
	for i := 0; i+1 < len(sql); i++ {
		if sql[i] != '$' || sql[i+1] < '0' || sql[i+1] > '9' {
			continue
		}
		j := i
		for j > 0 && isBlank(sql[j-1]) {
			j--
		}
		if j == i { // no blank between the word and the parameter
			continue
		}
		end := j
		for j > 0 && isWordByte(sql[j-1]) {
			j--
		}
		if end > j && end-j <= 11 && parameterTypes[strings.ToLower(sql[j:end])] {
			return true
		}
	}
	return false
}

// isBlank and isWordByte are RE2's \s and \w (ASCII), as typedParameter reads them.
func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' }

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// Plannable returns sql in a form PostgreSQL can PREPARE and EXPLAIN: a normalised text holding
// typed parameters (`interval $2`) is rewritten by the parser's own deparser, which writes them
// as casts (`$2::interval`). Any other text, and one that does not parse, is returned unchanged.
func Plannable(sql string) string {
	if !hasTypedParameter(sql) {
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
