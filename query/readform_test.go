package query

import "testing"

func TestReadForm(t *testing.T) {
	for in, want := range map[string]string{
		"UPDATE appointments SET status = $2, updated_at = now() WHERE id = $1":                      "SELECT appointments.status = $2, appointments.updated_at = now() FROM appointments WHERE id = $1",
		"DELETE FROM sessions s USING users u WHERE s.user_id = u.id AND u.deleted_at < $1":          "SELECT 1 FROM sessions s, users u WHERE s.user_id = u.id AND u.deleted_at < $1",
		"SELECT id FROM notifications WHERE status = $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED": "SELECT id FROM notifications WHERE status = $1 ORDER BY id LIMIT $2",
		"UPDATE t SET n = n + 1 FROM u WHERE t.id = u.t_id AND u.k = $1 RETURNING t.id":              "SELECT t.n = (n + 1) FROM t, u WHERE t.id = u.t_id AND u.k = $1",
	} {
		got, ok := ReadForm(in)
		if !ok || got != want {
			t.Errorf("ReadForm(%q) = %q, %v\nwant %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"SELECT 1", "INSERT INTO t VALUES ($1)", "UPDATE t SET (a, b) = ($1, $2) WHERE id = $3", "not sql"} {
		if _, ok := ReadForm(in); ok {
			t.Errorf("ReadForm(%q) made a read form", in)
		}
	}
}
