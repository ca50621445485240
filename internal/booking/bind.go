package booking

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Bound is a statement as an ORM sends it: every value the application's text writes as a
// literal ('pending', LIMIT 50, attempts < 5) is a bound parameter instead, numbered after the
// statement's own, so pg_stat_statements shows $n and pg_stat_activity never shows a constant.
// The SQL constructs that are not values stay: type modifiers (numeric(3,2)), GROUP BY and
// ORDER BY positions, arithmetic on columns (attempts + 1).
type Bound struct {
	SQL string
	// Args are the literals' values, to append to the call's own arguments.
	Args []any
}

// Bind rewrites a statement of the catalogue into its bound form: string literals anywhere, and
// numbers where they are values (after LIMIT, OFFSET or a comparison). A pattern built in SQL
// ('%' || $2) keeps its concatenation, with the '%' bound too.
func Bind(sql string) Bound {
	b := Bound{}
	next := maxParam(sql) + 1
	var out strings.Builder
	prevWord := "" // the last keyword or operator before the current position
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'':
			j := i + 1
			var lit strings.Builder
			for j < len(sql) {
				if sql[j] == '\'' {
					if j+1 < len(sql) && sql[j+1] == '\'' {
						lit.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				lit.WriteByte(sql[j])
				j++
			}
			fmt.Fprintf(&out, "$%d", next)
			next++
			b.Args = append(b.Args, lit.String())
			i = j + 1
			prevWord = "literal"
		case c >= '0' && c <= '9' && valuePosition(prevWord) && (i == 0 || !isWordByte(sql[i-1])):
			j := i
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			n, _ := strconv.ParseInt(sql[i:j], 10, 64)
			fmt.Fprintf(&out, "$%d", next)
			next++
			b.Args = append(b.Args, n)
			i = j
			prevWord = "literal"
		case isWordByte(c) || c == '$':
			j := i + 1
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			out.WriteString(sql[i:j])
			prevWord = strings.ToUpper(sql[i:j])
			i = j
		case unicode.IsSpace(rune(c)):
			out.WriteByte(c)
			i++
		default:
			j := i + 1
			for j < len(sql) && strings.IndexByte("<>=!", sql[j]) >= 0 && strings.IndexByte("<>=!", c) >= 0 {
				j++
			}
			out.WriteString(sql[i:j])
			prevWord = sql[i:j]
			i = j
		}
	}
	b.SQL = out.String()
	return b
}

// valuePosition reports whether a number after this word or operator is a value (a limit, a
// bound compared with a column) rather than SQL structure (a type modifier, a position).
func valuePosition(prev string) bool {
	switch prev {
	case "LIMIT", "OFFSET", "<", "<=", ">", ">=", "=", "<>", "!=":
		return true
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// maxParam is the highest $n in a text.
func maxParam(sql string) int {
	n := 0
	for i := 0; i < len(sql); i++ {
		if sql[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
			j++
		}
		if k, err := strconv.Atoi(sql[i+1 : j]); err == nil {
			n = max(n, k)
		}
	}
	return n
}
