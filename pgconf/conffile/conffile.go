// Package conffile renders a pgconf.Config as text a server reads: a postgresql.conf include file
// or ALTER SYSTEM statements. Each setting carries its reason as a comment, and the head of the
// file states the instance it was sized for, the connection budget and the memory budget, so the
// file explains itself to the next DBA who opens it.
package conffile

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bookedbarber/pgtune/pgconf"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Header describes what produced the file.
type Header struct {
	Tool    string // e.g. "pgtune 0.5.0"
	Command string // the command line, without secrets
}

// Describe is the instance in one line.
func Describe(in pgconf.Instance) string {
	s := fmt.Sprintf("%s RAM, %d CPU(s), %s storage, %s profile, PostgreSQL %d on %s", pgconf.HumanBytes(in.Memory), in.CPUs, in.Storage, in.Profile, in.Version, in.OS)
	if in.Pooler {
		s += ", PgBouncer in front"
	}
	return s
}

// Quote renders a value for postgresql.conf: numbers bare, anything else in single quotes, with
// quotes doubled and backslashes too (the file's parser reads backslash escapes inside quotes).
func Quote(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	return "'" + strings.NewReplacer("'", "''", `\`, `\\`).Replace(v) + "'"
}

// sqlValue renders a value for ALTER SYSTEM: numbers bare, anything else an SQL literal.
func sqlValue(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	return quote.Literal(v)
}

// WriteConf writes a postgresql.conf include file.
func WriteConf(w io.Writer, cfg *pgconf.Config, h Header) error {
	var b strings.Builder
	writeHead(&b, "# ", "postgresql.conf settings", cfg, h,
		"Include it last from postgresql.conf (include_if_exists = 'pgtune.conf'), so it wins.",
		"[restart] settings take effect after a server restart; the rest after SELECT pg_reload_conf().")
	group := ""
	for _, s := range cfg.Settings {
		if s.Group != group {
			group = s.Group
			fmt.Fprintf(&b, "\n# --- %s ---\n", group)
		}
		restart := ""
		if s.Restart {
			restart = "[restart] "
		}
		fmt.Fprintf(&b, "%-40s # %s%s\n", s.Name+" = "+Quote(s.Value), restart, s.Reason)
	}
	if len(cfg.Tables) > 0 {
		b.WriteString("\n# --- large tables: run these with psql (a postgresql.conf cannot hold them) ---\n")
		for _, t := range cfg.Tables {
			fmt.Fprintf(&b, "# %s  -- %s\n", t.SQL, t.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSQL writes ALTER SYSTEM statements, then the reload and what still needs a restart.
func WriteSQL(w io.Writer, cfg *pgconf.Config, h Header) error {
	var b strings.Builder
	writeHead(&b, "-- ", "ALTER SYSTEM settings", cfg, h,
		"Run as a superuser with psql; ALTER SYSTEM cannot run inside a transaction block.")
	var restart []string
	for _, s := range cfg.Settings {
		fmt.Fprintf(&b, "\n-- %s\nALTER SYSTEM SET %s = %s;\n", s.Reason, quoteParam(s.Name), sqlValue(s.Value))
		if s.Restart {
			restart = append(restart, s.Name)
		}
	}
	for i, t := range cfg.Tables {
		if i == 0 {
			b.WriteString("\n-- Large tables: autovacuum after about 1M changed rows.\n")
		}
		fmt.Fprintf(&b, "%s -- %s\n", t.SQL, t.Reason)
	}
	b.WriteString("\nSELECT pg_reload_conf();\n")
	if len(restart) > 0 {
		fmt.Fprintf(&b, "-- These take effect only after a restart: %s.\n", strings.Join(restart, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHead writes the comment block every rendered file starts with: what made it, for which
// instance, how to use it, and the budgets.
func writeHead(b *strings.Builder, prefix, what string, cfg *pgconf.Config, h Header, usage ...string) {
	lines := []string{what + " from " + h.Tool}
	if h.Command != "" {
		lines = append(lines, "  "+h.Command)
	}
	lines = append(lines, "Sized for: "+Describe(cfg.Instance)+".")
	lines = append(lines, usage...)
	lines = append(lines, "")
	for _, l := range append(lines, BudgetLines(cfg)...) {
		b.WriteString(strings.TrimRight(prefix+l, " ") + "\n")
	}
}

// quoteParam quotes a parameter name for ALTER SYSTEM part by part (pg_stat_statements.max is
// two identifiers with a dot, and stays bare).
func quoteParam(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = quote.Ident(p)
	}
	return strings.Join(parts, ".")
}

// BudgetLines is the connection budget, the memory budget and the notes as plain text lines,
// for comments in any file pgtune renders (pgbouncer.ini prints the same connection budget).
func BudgetLines(cfg *pgconf.Config) []string {
	var out []string
	out = append(out, ConnectionBudgetLines(cfg.Connections)...)
	m := cfg.Memory
	out = append(out, "", fmt.Sprintf("Memory budget: worst case %s of the %s available (%s RAM less the OS's headroom)",
		pgconf.HumanBytes(m.WorstCase), pgconf.HumanBytes(m.Available), pgconf.HumanBytes(m.RAM)))
	if m.OverBy > 0 {
		out = append(out, fmt.Sprintf("  WARNING: %s OVER the available memory: the tightest configuration pgtune can render, not a proven fit (see the notes).",
			pgconf.HumanBytes(m.OverBy)))
	}
	for _, l := range m.Lines {
		out = append(out, fmt.Sprintf("  %-30s %9s  %s", l.Item, pgconf.HumanBytes(l.Bytes), l.How))
	}
	if hp := cfg.HugePages; hp != nil {
		out = append(out, "", fmt.Sprintf("Huge pages: reserve %d pages of %s (vm.nr_hugepages = %d in /etc/sysctl.d/) for about %s of shared memory",
			hp.Pages, pgconf.HumanBytes(hp.PageSize), hp.Pages, pgconf.HumanBytes(hp.SharedMemory)))
		if hp.Command != "" {
			out = append(out, "  exact figure, with the server stopped: "+hp.Command)
		}
	}
	if len(cfg.Notes) > 0 {
		out = append(out, "", "Notes:")
		for _, n := range cfg.Notes {
			out = append(out, "  - "+n)
		}
	}
	return append(out, "")
}

// ConnectionBudgetLines is the connection budget table as text lines.
func ConnectionBudgetLines(cb pgconf.ConnectionBudget) []string {
	out := []string{fmt.Sprintf("Connection budget: %d needed, max_connections = %d", cb.Needed, cb.MaxConnections)}
	if rb := cb.Replica; rb != nil {
		out[0] = fmt.Sprintf("Connection budget: the primary needs %d, each replica %d; max_connections = %d on every node", cb.Needed, rb.Needed, cb.MaxConnections)
	}
	for _, r := range cb.Rows {
		out = append(out, fmt.Sprintf("  %-44s %5d  %s", r.Source, r.Connections, r.Basis))
	}
	if rb := cb.Replica; rb != nil {
		out = append(out, fmt.Sprintf("Each of the %d replicas: %d needed", rb.Replicas, rb.Needed))
		for _, r := range rb.Rows {
			out = append(out, fmt.Sprintf("  %-44s %5d  %s", r.Source, r.Connections, r.Basis))
		}
	}
	return out
}
