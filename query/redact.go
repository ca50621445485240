package query

import (
	"regexp"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Redacted is what a secret-bearing literal becomes: still a string literal, so the text parses.
const Redacted = "'<redacted>'"

// secretFunctions take keys, passwords or connection strings as string arguments.
var secretFunctions = map[string]bool{
	"dblink_connect": true, "dblink_connect_u": true, "dblink": true, "dblink_exec": true, "dblink_send_query": true,
	"dblink_open": true, "dblink_fetch": true, "dblink_get_connections": true,
	"pgp_sym_encrypt": true, "pgp_sym_decrypt": true, "pgp_sym_encrypt_bytea": true, "pgp_sym_decrypt_bytea": true,
	"pgp_pub_encrypt": true, "pgp_pub_decrypt": true, "pgp_pub_encrypt_bytea": true, "pgp_pub_decrypt_bytea": true,
	"encrypt": true, "decrypt": true, "encrypt_iv": true, "decrypt_iv": true, "hmac": true, "crypt": true,
}

// dml are the statements whose literals are the application's data (kept: they recover the
// constants pg_stat_statements normalised away). Everything else is a utility statement, whose
// string literals are the most likely secrets (CREATE ROLE ... PASSWORD, USER MAPPING OPTIONS,
// CREATE SERVER OPTIONS): they are all redacted.
var dml = map[pg_query.Token]bool{
	pg_query.Token_SELECT: true, pg_query.Token_INSERT: true, pg_query.Token_UPDATE: true, pg_query.Token_DELETE_P: true,
	pg_query.Token_WITH: true, pg_query.Token_VALUES: true, pg_query.Token_TABLE: true, pg_query.Token_MERGE: true,
	pg_query.Token_ASCII_40: true,
}

// quoted finds string literals for texts the scanner cannot read (cut short by
// track_activity_query_size, say): a closed literal, or an open one to the end.
// An E, B, X, N or U& prefix belongs to the literal.
var quoted = regexp.MustCompile(`(?s)(?:\b[EeBbXxNn]|\b[Uu]&)?'(?:[^']|'')*('|$)`)

// Redact replaces the literals in sql that may hold secrets with Redacted, using PostgreSQL's own
// scanner to find them: every string literal of a utility statement, and the string arguments of
// functions that take keys, passwords or connection strings (dblink, pgcrypto) in any statement.
// A text the scanner cannot read has every string literal redacted. It reports whether it
// changed anything.
func Redact(sql string) (string, bool) {
	res, err := pg_query.Scan(sql)
	if err != nil {
		var b strings.Builder
		last := 0
		for i, m := range quoted.FindAllStringIndex(sql, -1) {
			if i == 0 || strings.TrimSpace(sql[last:m[0]]) != "" {
				b.WriteString(sql[last:m[0]])
				writePlaceholder(&b)
			} // else: side by side with the last one, one placeholder for both
			last = m[1]
		}
		b.WriteString(sql[last:])
		out := b.String()
		if _, err := pg_query.Scan(out); err == nil {
			// Now readable (the open literal closed): dollar-quoted strings and the rest get the
			// scanner's treatment too.
			out, _ = Redact(out)
		}
		return out, out != sql
	}
	toks := res.Tokens
	utility := true
	for _, t := range toks {
		if t.Token == pg_query.Token_SQL_COMMENT || t.Token == pg_query.Token_C_COMMENT {
			continue
		}
		utility = !dml[t.Token]
		break
	}
	var b strings.Builder
	last := 0
	changed := false
	// depth of parentheses, and the depths at which a secret function's arguments began
	depth := 0
	var secretAt []int
	prevEnd := -1 // where the last placeholder's literal ended
	for i, t := range toks {
		switch t.Token {
		case pg_query.Token_ASCII_40:
			depth++
			if i > 0 && secretFunctions[strings.ToLower(strings.Trim(sql[toks[i-1].Start:toks[i-1].End], `"`))] {
				secretAt = append(secretAt, depth)
			}
		case pg_query.Token_ASCII_41:
			if n := len(secretAt); n > 0 && secretAt[n-1] == depth {
				secretAt = secretAt[:n-1]
			}
			depth--
		case pg_query.Token_SCONST, pg_query.Token_USCONST, pg_query.Token_XCONST, pg_query.Token_BCONST:
			if utility || len(secretAt) > 0 {
				start := int(t.Start) // the token spans its E, B, X or U& prefix
				// Literals side by side (only space between) become one placeholder: written as
				// two, PostgreSQL would read them as one ('a' '' b, or across a line break).
				if !(changed && last == prevEnd && strings.TrimSpace(sql[last:start]) == "") {
					b.WriteString(sql[last:start])
					writePlaceholder(&b)
				}
				last, prevEnd = int(t.End), int(t.End)
				changed = true
			}
		}
	}
	if !changed {
		return sql, false
	}
	b.WriteString(sql[last:])
	return b.String(), true
}

// writePlaceholder writes Redacted, apart from a word or & before it: E, B, X, N or U& right
// before a quote would make another kind of literal of it.
func writePlaceholder(b *strings.Builder) {
	if s := b.String(); s != "" {
		if c := s[len(s)-1]; c == '&' || c == '_' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= 0x80 {
			b.WriteByte(' ')
		}
	}
	b.WriteString(Redacted)
}
