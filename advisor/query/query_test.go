package query

import (
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	cases := []struct {
		sql    string
		kind   Kind
		tables []Table
	}{
		{"SELECT * FROM appointments a JOIN clients c ON c.id = a.client_id WHERE a.barber_id = $1",
			KindSelect, []Table{{Name: "appointments", Access: AccessRead}, {Name: "clients", Access: AccessRead}}},
		{"WITH due AS (SELECT id FROM public.notifications WHERE status = 'pending') UPDATE public.notifications n SET status = 'sent' FROM due WHERE n.id = due.id",
			KindUpdate, []Table{{Schema: "public", Name: "notifications", Access: AccessRead}, {Schema: "public", Name: "notifications", Access: AccessWrite}}},
		{"INSERT INTO reviews (appointment_id) VALUES ($1) ON CONFLICT (appointment_id) DO NOTHING",
			KindInsert, []Table{{Name: "reviews", Access: AccessWrite}}},
		{"DELETE FROM time_off WHERE ends_at < now()", KindDelete, []Table{{Name: "time_off", Access: AccessWrite}}},
		{"CREATE INDEX CONCURRENTLY ON payments (stripe_payment_intent_id)", KindUtility, []Table{{Name: "payments", Access: AccessDDL}}},
		{"SELECT 1", KindSelect, nil},
		{"BEGIN", KindUtility, nil},
	}
	for _, c := range cases {
		st, err := Parse(c.sql)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.sql, err)
			continue
		}
		if st.Kind != c.kind {
			t.Errorf("Parse(%q).Kind = %s, want %s", c.sql, st.Kind, c.kind)
		}
		if !reflect.DeepEqual(st.Tables, c.tables) {
			t.Errorf("Parse(%q).Tables = %+v, want %+v", c.sql, st.Tables, c.tables)
		}
		if len(st.Fingerprint) != 16 {
			t.Errorf("Parse(%q).Fingerprint = %q", c.sql, st.Fingerprint)
		}
	}
}

// pg_stat_statements keeps separate rows for texts that differ only in constants, comments or
// IN-list length; the fingerprint is what merges them.
func TestFingerprintIgnoresConstantsAndComments(t *testing.T) {
	same := []string{
		"SELECT * FROM payments WHERE stripe_payment_intent_id = $1",
		"select * from PAYMENTS where stripe_payment_intent_id = 'pi_123' -- webhook",
		"/* app */ SELECT * FROM payments WHERE stripe_payment_intent_id = 'pi_456'",
	}
	want, err := Fingerprint(same[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range same[1:] {
		if got, err := Fingerprint(s); err != nil || got != want {
			t.Errorf("Fingerprint(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	if other, _ := Fingerprint("SELECT * FROM payments WHERE appointment_id = $1"); other == want {
		t.Error("a different statement has the same fingerprint")
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse("SELECT * FROM appointments WHERE")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Position == 0 {
		t.Errorf("truncated text: %v (%T)", err, err)
	}
	if _, err := Parse("SELECT 1; SELECT 2"); !errors.Is(err, ErrNotOneStatement) {
		t.Errorf("two statements: %v", err)
	}
	if _, err := Parse("-- only a comment"); !errors.Is(err, ErrNotOneStatement) {
		t.Errorf("no statement: %v", err)
	}
}

// FuzzParse feeds the parser arbitrary text, as pg_stat_statements and users do: it must return a
// statement or an error, never crash, and agree with Fingerprint.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM appointments WHERE barber_id = $1 AND start_time >= $2 ORDER BY start_time",
		"UPDATE notifications SET status = 'sent' WHERE id = $1",
		"SELECT * FROM clients WHERE lower(email) = lower($1)",
		"SELECT $1::jsonb @> '{\"a\":1}'",
		"SELECT * FROM t WHERE x IN ($1 /*, ... */)",
		"CREATE INDEX CONCURRENTLY i ON t (a) INCLUDE (b) WHERE c IS NULL",
		"SELECT * FROM appointments WHERE",
		"DO $$ BEGIN PERFORM 1; END $$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		if !utf8.ValidString(sql) {
			t.Skip()
		}
		st, err := Parse(sql)
		if err != nil {
			return
		}
		fp, err := Fingerprint(sql)
		if err != nil || fp != st.Fingerprint {
			t.Fatalf("Parse fingerprint %q, Fingerprint %q (%v)", st.Fingerprint, fp, err)
		}
	})
}
