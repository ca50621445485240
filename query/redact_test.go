package query

import (
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestRedact(t *testing.T) {
	cases := []struct {
		in     string
		secret string // must be gone
		keep   string // must stay
	}{
		{"CREATE ROLE mon LOGIN PASSWORD 'hunter1'", "hunter1", "CREATE ROLE mon LOGIN PASSWORD"},
		{"ALTER ROLE app PASSWORD 'hunter2' VALID UNTIL '2027-01-01'", "hunter2", "ALTER ROLE app"},
		{"alter user app with encrypted password E'hun\\'ter3'", "ter3", "alter user app"},
		{"CREATE USER MAPPING FOR app SERVER billing OPTIONS (user 'fdw', password 'hunter4')", "hunter4", "SERVER billing"},
		{"ALTER USER MAPPING FOR app SERVER billing OPTIONS (SET password 'hunter5')", "hunter5", "SET password"},
		{"CREATE SERVER billing FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db', password 'hunter6')", "hunter6", "postgres_fdw"},
		{"SELECT dblink_connect('conn', 'host=db user=app password=hunter7')", "hunter7", "SELECT dblink_connect("},
		{"SELECT public.pgp_sym_encrypt(card, 'hunter8') FROM cards WHERE status = 'active'", "hunter8", "status = 'active'"},
		{`SELECT "pgp_sym_decrypt"(secret::bytea, $$hunter9$$) FROM cards`, "hunter9", "FROM cards"},
		{"/* app */ CREATE ROLE x PASSWORD 'hunter10'", "hunter10", "/* app */ CREATE ROLE x"},
		{"ALTER ROLE app PASSWORD 'hunter11", "hunter11", "ALTER ROLE app PASSWORD"}, // cut short
		{"SELECT id FROM appointments WHERE status = 'pending' AND barber_id = $1", "", "status = 'pending'"},
		{"SELECT crypt($1, gen_salt('bf'))", "'bf'", "SELECT crypt("},
	}
	for _, c := range cases {
		got, _ := Redact(c.in)
		if c.secret != "" && strings.Contains(got, c.secret) {
			t.Errorf("Redact(%q) = %q: the secret %q is still there", c.in, got, c.secret)
		}
		if !strings.Contains(got, c.keep) {
			t.Errorf("Redact(%q) = %q: lost %q", c.in, got, c.keep)
		}
		if _, err := pg_query.Parse(c.in); err == nil {
			if _, err := pg_query.Parse(got); err != nil {
				t.Errorf("Redact(%q) = %q no longer parses: %v", c.in, got, err)
			}
		}
	}
}

// FuzzRedact: Redact never panics, is idempotent, and leaves no string literal but its
// placeholder in a utility statement the scanner reads.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"CREATE ROLE a PASSWORD 'x'", "SELECT pgp_sym_encrypt(a, 'k') FROM t", "SELECT 'a' FROM t WHERE b = 'c'",
		"ALTER ROLE a PASSWORD 'x", "DO $$ BEGIN END $$", "SELECT dblink('h', $q$x$q$)", "SELECT (('a'))", ")))'", "SET x = U&'\\0041'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		once, _ := Redact(sql)
		twice, _ := Redact(once)
		if once != twice {
			t.Fatalf("not idempotent: %q -> %q -> %q", sql, once, twice)
		}
		res, err := pg_query.Scan(once)
		if err != nil {
			return
		}
		utility := true
		for _, tok := range res.Tokens {
			if tok.Token == pg_query.Token_SQL_COMMENT || tok.Token == pg_query.Token_C_COMMENT {
				continue
			}
			utility = !dml[tok.Token]
			break
		}
		if !utility {
			return
		}
		for _, tok := range res.Tokens {
			if tok.Token == pg_query.Token_SCONST && once[tok.Start:tok.End] != Redacted {
				t.Fatalf("Redact(%q) = %q keeps the literal %s", sql, once, once[tok.Start:tok.End])
			}
		}
	})
}
