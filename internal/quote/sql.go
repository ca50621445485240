// Package quote is pgtune's one quoter for every language it writes: SQL (sql.go), POSIX shell,
// systemd unit files and crontab lines (shell.go). Every identifier and string literal pgtune
// writes into SQL - migrations, fixes, grants, psql scripts - goes through Ident or Literal, and
// every argument of a generated command line through Shell, Systemd or Crontab.
//
// Ident follows PostgreSQL's own quote_ident: a name stays bare only when it is lower case
// letters, digits and underscores, starts with a letter or underscore, and is not a key word of
// any category but unreserved (the table is generated from the parser's kwlist.h, and a test
// compares it with each server's pg_get_keywords()).
package quote

//go:generate go run gen_keywords.go

import "strings"

type category uint8

const (
	colName category = iota + 1
	typeFuncName
	reserved
)

// Ident quotes an identifier when PostgreSQL needs it quoted, exactly as quote_ident does.
func Ident(s string) string {
	if s != "" && bare(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func bare(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	_, kw := keywords[s]
	return !kw
}

// Qualified quotes schema.name, each part on its own (an empty schema gives the bare name).
func Qualified(schema, name string) string {
	if schema == "" {
		return Ident(name)
	}
	return Ident(schema) + "." + Ident(name)
}

// QualifiedKey quotes a catalog key "schema.name" (the model's table and index keys), cut at the
// first dot: the model's keys are built that way, with the schema's own name before it.
func QualifiedKey(key string) string {
	if schema, name, ok := strings.Cut(key, "."); ok {
		return Qualified(schema, name)
	}
	return Ident(key)
}

// Literal quotes a string constant. A value holding a backslash is written as an escape string
// (E'...', backslashes doubled), as quote_literal does, so it means the same whatever
// standard_conforming_strings says.
func Literal(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// IsKeyword reports whether PostgreSQL reserves word in some way (any category but unreserved).
func IsKeyword(word string) bool {
	_, ok := keywords[strings.ToLower(word)]
	return ok
}
