package pgconf

import "fmt"

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
}
