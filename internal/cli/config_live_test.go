package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/pgconf"
)

// TestConfigLive reads a real server whose counters tell a story: every checkpoint requested,
// 17 of its 20 connections open, and transaction IDs close to autovacuum_freeze_max_age. config
// --dsn must size with that evidence, say why, list what would change (and what needs a restart),
// and change nothing on the server.
func TestConfigLive(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Conf: "max_connections = 20\nautovacuum_freeze_max_age = 100000\nautovacuum = off\n"})
		ctx := t.Context()
		admin, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		for i := 0; i < 12; i++ { // requested checkpoints
			if _, err := admin.Exec(ctx, "CHECKPOINT"); err != nil {
				t.Fatal(err)
			}
		}
		// 70,000 transaction IDs: subtransactions that each write get one.
		if _, err := admin.Exec(ctx, `CREATE TABLE xids (n int);
DO $$ BEGIN FOR i IN 1..70000 LOOP BEGIN INSERT INTO xids VALUES (i); EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END $$`); err != nil {
			t.Fatal(err)
		}
		var held []*pgx.Conn
		for i := 0; i < 15; i++ {
			c, err := pgx.Connect(ctx, srv.AdminDSN)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		defer func() {
			for _, c := range held {
				c.Close(ctx)
			}
		}()
		before := settingsOf(t, admin)

		r := run(t, "config", "--dsn", srv.AdminDSN, "--memory", "8GB", "--cpus", "4", "--format", "json")
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var doc struct {
			Result struct {
				Instance pgconf.Instance  `json:"instance"`
				Settings []pgconf.Setting `json:"settings"`
				Live     struct {
					Server  string          `json:"server"`
					Changes []pgconf.Change `json:"changes"`
					Signals []pgconf.Signal `json:"signals"`
				} `json:"live"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		res := doc.Result
		major := pgtest.MajorOf(t)
		if res.Instance.Version != major || !strings.Contains(res.Live.Server, fmt.Sprintf("PostgreSQL %d.", major)) {
			t.Errorf("sized for %d on %q: the server's version should be used", res.Instance.Version, res.Live.Server)
		}
		rules := map[string]pgconf.Signal{}
		for _, s := range res.Live.Signals {
			rules[s.Rule] = s
		}
		for _, want := range []string{"settings.checkpoints_requested", "settings.connections_near_limit", "settings.wraparound_age"} {
			if _, ok := rules[want]; !ok {
				t.Errorf("no %s signal; got %v", want, res.Live.Signals)
			}
		}
		for _, s := range res.Settings {
			if s.Name == "autovacuum_max_workers" && (s.Value != "4" || !strings.Contains(s.Reason, "live evidence")) {
				t.Errorf("autovacuum_max_workers = %s (%s): the wraparound evidence should raise it to 4", s.Value, s.Reason)
			}
		}
		changes := map[string]pgconf.Change{}
		for _, c := range res.Live.Changes {
			changes[c.Name] = c
		}
		if c := changes["max_connections"]; !c.Differs || !c.Restart || c.Live != "20" {
			t.Errorf("max_connections change %+v", c)
		}
		if c := changes["shared_preload_libraries"]; c.Differs {
			t.Errorf("shared_preload_libraries already holds pg_stat_statements: %+v", c)
		}
		if c := changes["track_io_timing"]; c.Differs { // the test server has it on
			t.Errorf("track_io_timing: %+v", c)
		}
		// The conf rendering lists the changes as comments.
		conf := run(t, "config", "--dsn", srv.AdminDSN, "--memory", "8GB", "--cpus", "4")
		if conf.code != ExitOK || !strings.Contains(conf.stdout, fmt.Sprintf("# Live server: PostgreSQL %d.", major)) ||
			!strings.Contains(conf.stdout, "max_connections                      20 -> ") {
			t.Errorf("conf output lacks the live comparison:\n%s", firstLines(conf.stdout, 30))
		}
		if testing.Verbose() {
			t.Log("\n" + firstLines(conf.stdout, 25))
		}
		if after := settingsOf(t, admin); after != before {
			t.Error("config --dsn changed the server's settings")
		}
		// --pg-version that disagrees with the server is refused.
		other := map[bool]int{true: 15, false: 17}[major == 17]
		if r := run(t, "config", "--dsn", srv.AdminDSN, "--memory", "8GB", "--cpus", "4", "--pg-version", itoa(other)); r.code != ExitUsage || !strings.Contains(r.stderr, fmt.Sprintf("runs PostgreSQL %d", major)) {
			t.Errorf("--pg-version %d against %d: exit %d, %s", other, major, r.code, r.stderr)
		}
	})
}

func settingsOf(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(t.Context(), "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
