package conffile

import (
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/pgconf"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"4GB": "'4GB'", "200": "200", "0.9": "0.9", "it's": "'it''s'", "pg_stat_statements": "'pg_stat_statements'"} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func config(t *testing.T) *pgconf.Config {
	t.Helper()
	c, err := pgconf.Recommend(pgconf.Instance{Memory: 16 * pgconf.GB, CPUs: 4, Storage: pgconf.StorageSSD, Profile: pgconf.ProfileWeb, Version: 17, OS: pgconf.OSLinux})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWriteSQL(t *testing.T) {
	var b strings.Builder
	if err := WriteSQL(&b, config(t), Header{Tool: "pgtune test"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"ALTER SYSTEM SET shared_buffers = '4GB';",
		"ALTER SYSTEM SET pg_stat_statements.max = 10000;",
		"ALTER SYSTEM SET random_page_cost = 1.1;",
		"\nSELECT pg_reload_conf();\n",
		"-- These take effect only after a restart: max_connections, shared_buffers, huge_pages,",
		"-- Connection budget: 212 needed, max_connections = 215",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the SQL lacks %q", want)
		}
	}
	// Every statement line is ALTER SYSTEM or the reload: nothing else can run.
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		if !strings.HasPrefix(line, "ALTER SYSTEM SET ") && line != "SELECT pg_reload_conf();" {
			t.Errorf("unexpected statement line %q", line)
		}
	}
}

func TestWriteConf(t *testing.T) {
	var b strings.Builder
	cfg := config(t)
	if err := WriteConf(&b, cfg, Header{Tool: "pgtune test"}); err != nil {
		t.Fatal(err)
	}
	settings := 0
	for _, line := range strings.Split(b.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		settings++
		name, rest, ok := strings.Cut(line, " = ")
		if !ok || !strings.Contains(rest, " # ") {
			t.Errorf("line %q is not `name = value # reason`", line)
			continue
		}
		if cfg.Get(name) == "" {
			t.Errorf("line %q names no rendered setting", line)
		}
	}
	if settings != len(cfg.Settings) {
		t.Errorf("%d setting lines for %d settings", settings, len(cfg.Settings))
	}
}
