package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{
		{"short", 10, "short"},
		{"the quick brown fox", 9, "the quick\nbrown fox"},
		{"keep\nbreaks here", 20, "keep\nbreaks here"},
		// A word longer than the column is cut, each piece but the last marked.
		{"appointments_barber_id_idx", 10, "appointme…\nnts_barbe…\nr_id_idx"},
	} {
		if got := wrap(c.in, c.w); got != c.want {
			t.Errorf("wrap(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
}

// SQL breaks only at blanks outside literals, quoted names and comments: the wrapped text is the
// same statement.
func TestWrapSQL(t *testing.T) {
	sql := `CREATE INDEX CONCURRENTLY IF NOT EXISTS "my odd idx" ON public.t (a, b) WHERE status = 'not yet paid' -- a note with spaces`
	got := wrapSQL(sql, 30, "  ")
	for _, l := range strings.Split(got, "\n") {
		if utf8.RuneCountInString(l) > 30 && !strings.Contains(l, "'not yet paid'") && !strings.Contains(l, "--") {
			t.Errorf("line too wide: %q", l)
		}
	}
	if !strings.Contains(got, `"my odd idx"`) || !strings.Contains(got, `'not yet paid'`) || !strings.Contains(got, "-- a note with spaces") {
		t.Errorf("a quoted name, a literal or a comment was broken:\n%s", got)
	}
	if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(sql), " ") {
		t.Errorf("the statement changed:\n%s", got)
	}
}

// A grid wider than the width has its widest columns narrowed and wrapped; nothing is lost.
func TestRenderFitted(t *testing.T) {
	tab := Table{Columns: []string{"#", "statement", "ms"}, Rows: [][]string{
		{"1", "SELECT id, start_time FROM appointments WHERE barber_id = $1 AND start_time >= $2 ORDER BY start_time LIMIT 20", "12.5"},
	}}
	var b bytes.Buffer
	if err := Write(&b, FormatTable, Output{Tables: []Table{tab}, Width: 50}); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if utf8.RuneCountInString(l) > 50 {
			t.Errorf("line of %d: %q", utf8.RuneCountInString(l), l)
		}
	}
	words := strings.Fields(strings.NewReplacer("|", " ", "+", " ", "-", " ").Replace(b.String()))
	for _, w := range strings.Fields(tab.Rows[0][1]) {
		if !slices.Contains(words, w) {
			t.Errorf("%q lost", w)
		}
	}
}
