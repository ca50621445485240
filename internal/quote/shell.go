package quote

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// shellSafe are the characters an argument may hold and stay bare in every language here.
func shellSafe(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+", r)
}

// HasControl reports whether s holds a control character (a newline among them): no value pgtune
// writes into a line-based file may, whatever the quoting.
func HasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// Shell quotes an argument for a POSIX shell: bare when it is plain, in single quotes otherwise;
// control characters (never part of a real argument) are written as bash's $'\n' escapes, so a
// quoted command line is always one line.
func Shell(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !shellSafe(r) }) < 0 {
		return s
	}
	if HasControl(s) {
		var b strings.Builder
		b.WriteString("$'")
		for _, r := range s {
			switch {
			case r == '\'' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case unicode.IsControl(r):
				fmt.Fprintf(&b, `\x%02x`, r)
			default:
				b.WriteRune(r)
			}
		}
		return b.String() + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Systemd quotes an argument of a unit file's ExecStart=: double quotes with C escapes (systemd
// does not join adjacent quoted strings the way a shell does), '%' doubled (a specifier
// otherwise) and '$' doubled (a variable otherwise). Callers refuse control characters first.
func Systemd(s string) string {
	r := strings.NewReplacer("%", "%%", "$", "$$")
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !shellSafe(r) }) < 0 {
		return r.Replace(s)
	}
	return `"` + r.Replace(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)) + `"`
}

// Crontab quotes an argument of a crontab line's command: shell quoting, then every '%' escaped
// (cron turns an unescaped '%' into a newline and feeds the rest to the command's stdin). Cron's
// /bin/sh may not read $'...' escapes: callers refuse control characters first.
func Crontab(s string) string {
	return strings.ReplaceAll(Shell(s), "%", `\%`)
}

// OneLine keeps text on one line of a comment in any file pgtune writes: control characters
// (a newline in a name read from the catalog) become Go escapes, which would otherwise end the
// comment and start a setting or a statement of their own.
func OneLine(s string) string {
	if !HasControl(s) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// Excerpt is the start of a text on one line: whitespace runs flattened to one space, cut to n
// characters (not bytes) with a "…" when longer.
func Excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
