package quote

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestIdent(t *testing.T) {
	for in, want := range map[string]string{
		"appointments":    "appointments",
		"_x1":             "_x1",
		"9to5":            `"9to5"`,
		"Shop":            `"Shop"`,
		"left":            `"left"`,
		"current_catalog": `"current_catalog"`,
		"verbose":         `"verbose"`,
		"int":             `"int"`, // a column-name key word: quote_ident quotes it too
		"name":            "name",  // unreserved
		"price$":          `"price$"`,
		`a"b`:             `"a""b"`,
		"":                `""`,
		"café":            `"café"`,
	} {
		if got := Ident(in); got != want {
			t.Errorf("Ident(%q) = %s, want %s", in, got, want)
		}
	}
	if got := Qualified("My Schema", "order"); got != `"My Schema"."order"` {
		t.Errorf("Qualified = %s", got)
	}
	if got := QualifiedKey("public.left"); got != `public."left"` {
		t.Errorf("QualifiedKey = %s", got)
	}
}

func TestLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"plain":   "'plain'",
		"it's":    "'it''s'",
		`C:\dir`:  `E'C:\\dir'`,
		`a\'b`:    `E'a\\''b'`,
		"":        "''",
		"two\nln": "'two\nln'",
	} {
		if got := Literal(in); got != want {
			t.Errorf("Literal(%q) = %s, want %s", in, got, want)
		}
	}
}

// unquoteIdent reverses Ident the way PostgreSQL's scanner reads a (quoted) identifier.
func unquoteIdent(q string) (string, bool) {
	if !strings.HasPrefix(q, `"`) {
		return q, true
	}
	if len(q) < 2 || !strings.HasSuffix(q, `"`) {
		return "", false
	}
	inner := q[1 : len(q)-1]
	if strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
		return "", false
	}
	return strings.ReplaceAll(inner, `""`, `"`), true
}

func FuzzIdent(f *testing.F) {
	for _, s := range []string{"left", `a"b`, "Shop", "9to5", "", `""`, "x y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Ident(s)
		got, ok := unquoteIdent(q)
		if !ok || got != s {
			t.Fatalf("Ident(%q) = %s reads back as %q", s, q, got)
		}
		if q == s && IsKeyword(s) {
			t.Fatalf("key word %q left bare", s)
		}
		l := Literal(s)
		if !utf8.ValidString(s) {
			return
		}
		if strings.Count(strings.TrimPrefix(l, "E"), "'")%2 != 0 {
			t.Fatalf("Literal(%q) = %s has an odd number of quotes", s, l)
		}
	})
}

// The server is the authority: for every key word it knows (pg_get_keywords, its own list, per
// major) and for awkward names, Ident and Literal agree with its quote_ident and quote_literal,
// and a quoted key word works as a column name.
func TestAgainstServer(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		conn := db.Connect(t)
		ctx := t.Context()
		rows, err := conn.Query(ctx, "SELECT word, catcode::text FROM pg_catalog.pg_get_keywords()")
		if err != nil {
			t.Fatal(err)
		}
		var words []string
		quoted := 0
		for rows.Next() {
			var w, cat string
			if err := rows.Scan(&w, &cat); err != nil {
				t.Fatal(err)
			}
			words = append(words, w)
			if cat != "U" {
				quoted++
				if !IsKeyword(w) {
					t.Errorf("PostgreSQL %d reserves %q (category %s); the quoter's table does not", pgtest.MajorOf(t), w, cat)
				}
			}
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if quoted < 150 {
			t.Fatalf("only %d non-unreserved key words read", quoted)
		}
		names := append(words, "Shop", "9to5", `a"b`, "x y", "café", "price$", "_ok", "ok1", `'`, `\`)
		for _, w := range names {
			var ident, lit string
			if err := conn.QueryRow(ctx, "SELECT pg_catalog.quote_ident($1), pg_catalog.quote_literal($1)", w).Scan(&ident, &lit); err != nil {
				t.Fatal(err)
			}
			if got := Ident(w); got != ident {
				t.Errorf("Ident(%q) = %s, quote_ident says %s", w, got, ident)
			}
			if got := Literal(w); got != lit {
				t.Errorf("Literal(%q) = %s, quote_literal says %s", w, got, lit)
			}
		}
		// Every key word as a column, indexed and selected: what a generated migration does.
		var cols []string
		for _, w := range words {
			cols = append(cols, Ident(w)+" int")
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE "+Ident("left")+" ("+strings.Join(cols, ", ")+")"); err != nil {
			t.Fatalf("a table with every key word as a column: %v", err)
		}
		for _, w := range words {
			sql := "CREATE INDEX ON " + Qualified("public", "left") + " (" + Ident(w) + ")"
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
			sql = "SELECT " + Ident(w) + " FROM " + Ident("left") + " WHERE " + Ident(w) + " = " + Literal("1")
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
		}
	})
}
