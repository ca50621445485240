package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// Secrets in statement texts never leave: pg_stat_statements keeps utility statements as written
// (CREATE/ALTER ROLE ... PASSWORD, USER MAPPING OPTIONS) and pg_stat_activity shows every text as
// sent (a dblink connection string, a pgcrypto key). After each of them ran on a real server,
// neither advise's JSON, nor a snapshot file, nor anything on stderr holds one; the texts are
// there, with a placeholder.
func TestNoSecretsInStatementTexts(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "postgres_fdw", "dblink", "pgcrypto"))
		conn := db.Connect(t)
		ctx := t.Context()
		var port string
		if err := conn.QueryRow(ctx, "SELECT current_setting('port')").Scan(&port); err != nil {
			t.Fatal(err)
		}
		role := fmt.Sprintf("mon_%d", time.Now().UnixNano()%1e6) // roles are server-wide
		for _, sql := range []string{
			"SELECT pg_stat_statements_reset()",
			"CREATE ROLE " + role + " LOGIN PASSWORD 'S3cret-create'",
			"ALTER ROLE " + role + " PASSWORD 'S3cret-alter'",
			"CREATE SERVER billing FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'billing')",
			"CREATE USER MAPPING FOR " + role + " SERVER billing OPTIONS (user 'fdw', password 'S3cret-mapping')",
			"ALTER USER MAPPING FOR " + role + " SERVER billing OPTIONS (SET password 'S3cret-mapping2')",
			"SELECT dblink_connect('c1', 'host=127.0.0.1 port=" + port + " dbname=" + db.Name + " user=postgres password=S3cret-dblink')",
			"SELECT dblink_disconnect('c1')",
		} {
			if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), db.DSN)
			if err == nil {
				c.Exec(context.Background(), "DROP USER MAPPING FOR "+role+" SERVER billing; DROP ROLE "+role)
				c.Close(context.Background())
			}
		})
		// A statement running while pgtune samples pg_stat_activity, its key in the text.
		busy := db.Connect(t)
		// Joined before the test returns: the connection is closed at cleanup, never under it.
		busyDone := make(chan struct{})
		go func() {
			defer close(busyDone)
			busy.Exec(ctx, "SELECT pgp_sym_encrypt('4242 4242 4242 4242', 'S3cret-key'), pg_sleep(4)", pgx.QueryExecModeSimpleProtocol)
		}()
		defer func() { <-busyDone }()
		time.Sleep(300 * time.Millisecond)

		out := filepath.Join(t.TempDir(), "snap.json")
		snap := run(t, "snapshot", "--dsn", db.DSN, "--out", out, "--sample", "1s")
		adv := run(t, "advise", "--dsn", db.DSN, "--format", "json", "--no-indexes")
		file, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("snapshot: exit %d, %s: %v", snap.code, snap.stderr, err)
		}
		for name, text := range map[string]string{"snapshot file": string(file), "snapshot stderr": snap.stderr,
			"advise stdout": adv.stdout, "advise stderr": adv.stderr} {
			if strings.Contains(text, "S3cret") {
				i := strings.Index(text, "S3cret")
				t.Errorf("%s holds a secret: …%s…", name, strings.ReplaceAll(text[max(0, i-300):min(len(text), i+40)], "\n", " "))
			}
		}
		// The statements are still there, redacted: the placeholder shows where.
		// (JSON writes < and > as \u003c and \u003e.)
		if !strings.Contains(string(file), `PASSWORD '\u003credacted\u003e'`) || !strings.Contains(string(file), `password '\u003credacted\u003e'`) {
			t.Errorf("the snapshot lacks the redacted utility statements:\n%s", firstLines(string(file), 5))
		}
		if !strings.Contains(string(file), "pgp_sym_encrypt") {
			t.Log("the pgcrypto statement was not sampled this time (the sample is one look a second)")
		}
	})
}
