package pgconf

import (
	"fmt"
	"math"
	"strings"

	"github.com/bookedbarber/pgtune/internal/quote"
)

func (p *plan) autovacuumSettings() {
	in := p.in
	workers := fmt.Sprintf("%d CPUs: more tables vacuumed at once so one large table does not hold up the rest; the cost limit is shared among them", in.CPUs)
	if p.autovacuumWorkers == 3 {
		workers = "PostgreSQL's 3 suit up to 8 CPUs; spelled out because the memory budget counts them"
	}
	p.setInt("autovacuum", "autovacuum_max_workers", p.autovacuumWorkers, workers)
	if in.Version >= 18 && p.autovacuumWorkers > 16 {
		p.setInt("autovacuum", "autovacuum_worker_slots", p.autovacuumWorkers, "18 reserves worker slots at start; autovacuum_max_workers cannot exceed them")
	}
	limit, why := 2000, "solid-state storage absorbs vacuum I/O: 10 × the default, so vacuum keeps up with a busy database"
	switch in.Storage {
	case StorageHDD:
		limit, why = 400, "spinning disks: twice the default, vacuum still yields to queries"
	case StorageSAN:
		limit, why = 1000, "shared storage: 5 × the default, leaving I/O for the neighbours"
	}
	p.setInt("autovacuum", "autovacuum_vacuum_cost_limit", limit, why)
	p.setReal("autovacuum", "autovacuum_vacuum_scale_factor", 0.05,
		"vacuum after 5 % of a table changed, not 20 %: large tables otherwise wait for millions of dead rows")
	p.setReal("autovacuum", "autovacuum_analyze_scale_factor", 0.02,
		"analyze after 2 % changed: large tables' statistics stay fresh enough for the planner")
	p.setReal("autovacuum", "autovacuum_vacuum_insert_scale_factor", 0.05,
		"insert-only tables get vacuumed (visibility map, freezing) after 5 % new rows")
	if in.Version >= 18 {
		p.setInt("autovacuum", "autovacuum_vacuum_max_threshold", largeTableDeadRows,
			"18 caps the threshold: a 100M-row table is vacuumed after 1M dead rows, not after 5M")
	}
}

// largeTableDeadRows is how many dead rows a large table may gather before autovacuum: past it,
// a scale factor lets dead rows pile up into the millions.
const largeTableDeadRows = 1_000_000

// largeTableRows is where a per-table scale factor starts to matter (5 % of it is 1M dead rows).
const largeTableRows = 20_000_000

// TableSetting is a per-table storage parameter pgtune recommends from a live server's tables.
type TableSetting struct {
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
	SQL    string `json:"sql"`
	Reason string `json:"reason"`
}

// tableSettings gives each large table a scale factor that triggers autovacuum after about 1M
// dead rows (before 18, which caps it with autovacuum_vacuum_max_threshold instead); tables that
// already set their own are left alone.
func (p *plan) tableSettings() []TableSetting {
	if p.live == nil || p.in.Version >= 18 {
		return nil
	}
	var out []TableSetting
	for _, t := range p.live.snap.Tables {
		if t.Kind != "table" || t.RowEstimate < largeTableRows || hasAutovacuumOption(t.Reloptions) {
			continue
		}
		rows := int64(t.RowEstimate)
		scale := math.Max(0.001, math.Round(float64(largeTableDeadRows)/t.RowEstimate*1000)/1000)
		ident := quote.Ident(t.Schema) + "." + quote.Ident(t.Name)
		out = append(out, TableSetting{Table: t.Schema + "." + t.Name, Rows: rows,
			SQL:    fmt.Sprintf("ALTER TABLE %s SET (autovacuum_vacuum_scale_factor = %g, autovacuum_analyze_scale_factor = %g);", ident, scale, scale),
			Reason: fmt.Sprintf("%dM rows: vacuum and analyze after about 1M changed rows rather than %dM", rows/1_000_000, int64(float64(rows)*0.05)/1_000_000)})
	}
	return out
}

func hasAutovacuumOption(opts []string) bool {
	for _, o := range opts {
		if strings.HasPrefix(o, "autovacuum_vacuum_scale_factor=") || strings.HasPrefix(o, "autovacuum_vacuum_threshold=") || strings.HasPrefix(o, "autovacuum_enabled=") {
			return true
		}
	}
	return false
}
