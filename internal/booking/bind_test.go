package booking

import (
	"slices"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/query"
)

func TestBind(t *testing.T) {
	cases := []struct {
		in, want string
		args     []any
	}{
		{`SELECT id FROM n WHERE status = 'pending' AND at <= now() ORDER BY at LIMIT 50`,
			`SELECT id FROM n WHERE status = $1 AND at <= now() ORDER BY at LIMIT $2`, []any{"pending", int64(50)}},
		{`SELECT a FROM t WHERE b = $1 AND c IN ('x', 'it''s') AND d < 5 OFFSET $2`,
			`SELECT a FROM t WHERE b = $1 AND c IN ($3, $4) AND d < $5 OFFSET $2`, []any{"x", "it's", int64(5)}},
		// Structure stays: type modifiers, positions, arithmetic, identifiers with digits.
		{`SELECT avg(r)::numeric(3,2), date_trunc('day', s) FROM t2 WHERE x1 = y GROUP BY 2 ORDER BY 2`,
			`SELECT avg(r)::numeric(3,2), date_trunc($1, s) FROM t2 WHERE x1 = y GROUP BY 2 ORDER BY 2`, []any{"day"}},
		{`UPDATE t SET attempts = attempts + 1 WHERE id = $1`, `UPDATE t SET attempts = attempts + 1 WHERE id = $1`, nil},
		{`SELECT 1 FROM t HAVING count(*) >= 2`, `SELECT 1 FROM t HAVING count(*) >= $1`, []any{int64(2)}},
	}
	for _, c := range cases {
		got := Bind(c.in)
		if got.SQL != c.want || !slices.Equal(got.Args, c.args) {
			t.Errorf("Bind(%q)\n = %q %v\nwant %q %v", c.in, got.SQL, got.Args, c.want, c.args)
		}
	}
}

// TestBoundCatalogue: every statement's bound form parses, has no literal left, and numbers its
// new parameters after the statement's own.
func TestBoundCatalogue(t *testing.T) {
	for _, s := range Statements {
		b := Bind(s.SQL)
		if strings.Contains(b.SQL, "'") {
			t.Errorf("%s: a literal is left: %s", s.Name, b.SQL)
		}
		if got, want := maxParam(b.SQL), maxParam(s.SQL)+len(b.Args); got != want {
			t.Errorf("%s: $%d is the highest parameter, want $%d", s.Name, got, want)
		}
		if _, err := query.Parse(b.SQL); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
}
