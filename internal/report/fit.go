package report

import (
	"strings"
	"unicode/utf8"
)

// Fitting tables to the terminal. A grid wider than Output.Width gets its widest columns
// narrowed, down to minColumn, and their cells wrapped at spaces (a word longer than its column
// is cut, each piece but the last ending in wrapMark); records (a finding's fields), titles and
// notes wrap with a hanging indent. SQL (Table.Code) breaks only at blanks outside quotes and
// comments, so the wrapped text is the same statement when copied. Nothing is dropped: --wide,
// Markdown and JSON keep every line whole.

// minColumn is the narrowest a column is made.
const minColumn = 8

// wrapMark ends the piece of a word cut to fit its column.
const wrapMark = "…"

// fitColumns returns each column's width: the natural ones when they fit width (0: no limit),
// else the widest narrowed one character at a time until they do, or every column is at
// minColumn (or its header, if shorter).
func fitColumns(t Table, width int) []int {
	n := len(t.Columns)
	widths := make([]int, n)
	for i, c := range t.Columns {
		widths[i] = widest(c)
	}
	for _, r := range t.Rows {
		for i := 0; i < n && i < len(r); i++ {
			widths[i] = max(widths[i], widest(r[i]))
		}
	}
	if width <= 0 {
		return widths
	}
	// ASCII grid: "| " before each cell, " " after, and the closing "|".
	budget := width - (3*n + 1)
	for sum(widths) > budget {
		i := argmax(widths)
		floor := min(minColumn, max(widest(t.Columns[i]), 1))
		if widths[i] <= floor {
			break // every column is as narrow as it goes: the table stays wider
		}
		widths[i]--
	}
	return widths
}

// wrap breaks s into lines of at most w characters, at spaces where it can. Existing line
// breaks are kept.
func wrap(s string, w int) string {
	if w <= 0 {
		return s
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		out = append(out, wrapLine(line, w)...)
	}
	return strings.Join(out, "\n")
}

func wrapLine(line string, w int) []string {
	if utf8.RuneCountInString(line) <= w {
		return []string{line}
	}
	var out []string
	cur := ""
	flush := func() {
		out = append(out, strings.TrimRight(cur, " "))
		cur = ""
	}
	for _, word := range strings.Split(line, " ") {
		for utf8.RuneCountInString(word) > w {
			// A word longer than the column: cut it, marked.
			if cur != "" {
				flush()
			}
			head := []rune(word)[:w-1]
			out = append(out, string(head)+wrapMark)
			word = string([]rune(word)[w-1:])
		}
		switch {
		case cur == "":
			cur = word
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= w:
			cur += " " + word
		default:
			flush()
			cur = word
		}
	}
	if cur != "" || len(out) == 0 {
		flush()
	}
	return out
}

// widest is the longest line of s, in characters.
func widest(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		n = max(n, utf8.RuneCountInString(l))
	}
	return n
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

func argmax(xs []int) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

// wrapSQL breaks each line of sql longer than w at blanks outside string literals, quoted
// identifiers and comments (a line break there is a blank to PostgreSQL), continuing with indent.
// A line with no such blank stays whole.
func wrapSQL(sql string, w int, indent string) string {
	if w <= 0 {
		return sql
	}
	var out []string
	for _, line := range strings.Split(sql, "\n") {
		for utf8.RuneCountInString(line) > w {
			cut := sqlBreak(line, w)
			if cut <= 0 {
				break
			}
			out = append(out, strings.TrimRight(line[:cut], " "))
			line = indent + strings.TrimLeft(line[cut:], " ")
			if utf8.RuneCountInString(line) <= len(indent) {
				line = ""
				break
			}
		}
		if line != "" || len(out) == 0 {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// sqlBreak is the byte offset of the last blank outside quotes and comments within the first w
// characters of line (0: none).
func sqlBreak(line string, w int) int {
	best := 0
	var quote byte // ', " or - (a -- comment runs to the end of the line)
	chars := 0
	for i := 0; i < len(line) && chars <= w; i++ {
		c := line[i]
		if c&0xC0 != 0x80 {
			chars++
		}
		switch {
		case quote == '-':
			return best
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '-' && i+1 < len(line) && line[i+1] == '-':
			quote = '-'
		case c == ' ' && chars <= w+1 && i > 0:
			best = i
		}
	}
	return best
}
