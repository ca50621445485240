package cli

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/pgconf"
)

// TestConfigStartsServer renders postgresql.conf for instance sizes that fit the test machine,
// starts a real PostgreSQL with it (included last, as the README says to) and checks that the
// server took every setting: pg_file_settings reports no error, and each rendered value reads
// back from pg_settings. The huge-page estimate is checked against the server's own figure.
func TestConfigStartsServer(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		cases := []struct {
			name string
			args []string
		}{
			{"1GB web, 1 CPU", []string{"--memory", "1GB", "--cpus", "1", "--profile", "web", "--storage", "ssd"}},
			{"4GB oltp behind PgBouncer", []string{"--memory", "4GB", "--cpus", "2", "--profile", "oltp", "--storage", "nvme",
				"--pooler", "--app-instances", "10", "--app-pool-size", "100"}},
			{"8GB dw on disks", []string{"--memory", "8GB", "--cpus", "2", "--profile", "dw", "--storage", "hdd"}},
			// PostgreSQL's own default of 100 connections on 1GB: the explicit number wins.
			{"1GB with max_connections 100", []string{"--memory", "1GB", "--cpus", "1", "--profile", "web", "--max-connections", "100"}},
			// No worst case fits: the tightest config still starts a server.
			{"512MB with 400 connections (tightest)", []string{"--memory", "512MB", "--cpus", "1", "--profile", "oltp", "--max-connections", "400"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{"config", "--pg-version", itoa(pgtest.MajorOf(t))}, c.args...)
				conf := run(t, args...)
				if conf.code != ExitOK {
					t.Fatalf("config: exit %d: %s", conf.code, conf.stderr)
				}
				js := run(t, append(args, "--format", "json")...)
				var doc struct {
					Result pgconf.Config `json:"result"`
				}
				if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil {
					t.Fatal(err)
				}
				cfg := doc.Result

				srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Conf: conf.stdout})
				ctx := t.Context()
				conn, err := pgx.Connect(ctx, srv.AdminDSN)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)

				rows, _ := conn.Query(ctx, "SELECT name, coalesce(error, '') FROM pg_file_settings WHERE error IS NOT NULL OR NOT applied")
				bad, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Err string }])
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range bad {
					// A line of the test image's own settings that ours override is "not applied".
					if b.Err != "" || !overridden(cfg, b.Name) {
						t.Errorf("pg_file_settings: %s not applied: %q", b.Name, b.Err)
					}
				}

				for _, s := range cfg.Settings {
					var setting, unit string
					err := conn.QueryRow(ctx, "SELECT setting, coalesce(unit, '') FROM pg_settings WHERE name = $1", s.Name).Scan(&setting, &unit)
					if err != nil {
						t.Errorf("%s: not a setting of the server: %v", s.Name, err)
						continue
					}
					p, _ := pgconf.Lookup(s.Name)
					want, err1 := p.ParseValue(s.Value, "")
					got, err2 := p.ParseValue(setting, unit)
					if err1 != nil || err2 != nil {
						t.Errorf("%s: %v %v", s.Name, err1, err2)
						continue
					}
					if math.IsNaN(want) {
						if !strings.EqualFold(setting, s.Value) {
							t.Errorf("%s = %q on the server, rendered %q", s.Name, setting, s.Value)
						}
					} else if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
						t.Errorf("%s = %s %s on the server (%g), rendered %s (%g)", s.Name, setting, unit, got, s.Value, want)
					}
				}

				// The ALTER SYSTEM rendering of the same settings: the server parses and validates each
				// value as it writes postgresql.auto.conf; any refusal fails the script.
				sql := run(t, append(args, "--format", "sql")...)
				if sql.code != ExitOK {
					t.Fatalf("config --format sql: exit %d: %s", sql.code, sql.stderr)
				}
				if err := srv.WriteFile(ctx, srv.Dir+"/pgtune.sql", sql.stdout); err != nil {
					t.Fatal(err)
				}
				port := strconv.Itoa(srv.ServerPort)
				if out, err := srv.Exec(ctx, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres", "-f", srv.Dir+"/pgtune.sql"); err != nil {
					t.Errorf("the ALTER SYSTEM script fails: %v\n%s", err, out)
				}
				var autoSettings int
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf' AND error IS NULL").Scan(&autoSettings); err != nil || autoSettings < len(cfg.Settings) {
					t.Errorf("postgresql.auto.conf holds %d valid settings, want %d (%v)", autoSettings, len(cfg.Settings), err)
				}

				// The server reports its huge-page need from 15 on (shared_memory_size_in_huge_pages).
				if hp := cfg.HugePages; hp != nil && srv.Major >= 15 {
					var pages int64
					if err := conn.QueryRow(ctx, "SELECT current_setting('shared_memory_size_in_huge_pages')::int8").Scan(&pages); err != nil {
						t.Fatal(err)
					}
					if hp.Pages < pages || hp.Pages > pages*11/10 {
						t.Errorf("huge pages: pgtune reserves %d, the server needs %d (want at least that, at most 10 %% more)", hp.Pages, pages)
					}
					t.Logf("huge pages: pgtune %d, server %d", hp.Pages, pages)
				}
			})
		}
	})
}

// overridden reports whether the rendered config sets name (so the test image's line for it is
// rightly not applied).
func overridden(cfg pgconf.Config, name string) bool {
	for _, s := range cfg.Settings {
		if s.Name == name {
			return true
		}
	}
	return false
}
