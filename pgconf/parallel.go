package pgconf

import "fmt"

// extensionWorkers is the headroom max_worker_processes keeps above the parallel workers for
// background workers that are not queries: the logical replication launcher and its apply
// workers, pg_cron's launcher, and one more extension.
const extensionWorkers = 4

// sizeParallel sets the parallel query and autovacuum worker counts.
func (p *plan) sizeParallel() {
	in := p.in
	cpus := in.CPUs
	if cpus >= 2 {
		p.maxParallelWorkers = cpus
	}
	half := cpus / 2
	switch in.Profile {
	case ProfileDW:
		p.perGather = min(half, 16)
	case ProfileMixed:
		p.perGather = min(half, 4)
	default:
		// Short queries gain little from parallel plans, and each worker is another backend
		// sorting with its own work_mem.
		p.perGather = min(half, 2)
	}
	p.parallelMaintenance = min(half, 4)
	p.maxWorkerProcesses = max(8, p.maxParallelWorkers+extensionWorkers)

	switch {
	case in.Memory < 4*GB:
		// Each worker holds autovacuum_work_mem; a small machine vacuums with the default three.
		p.autovacuumWorkers = 3
	case cpus >= 32:
		p.autovacuumWorkers = 6
	case cpus >= 16:
		p.autovacuumWorkers = 5
	case cpus >= 8:
		p.autovacuumWorkers = 4
	default:
		p.autovacuumWorkers = 3
	}
	for _, rule := range []string{"settings.autovacuum_behind", "settings.wraparound_age"} {
		if s := p.signalFor(rule); s != nil {
			p.autovacuumWorkers = min(p.autovacuumWorkers+2, max(p.autovacuumWorkers, in.CPUs))
			p.adjusted("autovacuum_max_workers", s)
			break
		}
	}
}

func (p *plan) parallelSettings() {
	p.setInt("parallel", "max_worker_processes", p.maxWorkerProcesses,
		fmt.Sprintf("the parallel workers plus %d for logical replication, pg_cron and other extensions' workers (at least PostgreSQL's 8)", extensionWorkers))
	if p.maxParallelWorkers == 0 {
		why := "one CPU: a parallel plan only adds overhead"
		if p.in.CPUs > 1 {
			why = "off so the memory budget fits (see the notes)"
		}
		p.setInt("parallel", "max_parallel_workers", 0, why)
		p.setInt("parallel", "max_parallel_workers_per_gather", 0, why)
		p.setInt("parallel", "max_parallel_maintenance_workers", 0, why)
		return
	}
	p.setInt("parallel", "max_parallel_workers", p.maxParallelWorkers, "one per CPU; counted as backends in the memory budget")
	gather := "half the CPUs, at most 2: short queries gain little and each worker sorts with its own work_mem"
	switch p.in.Profile {
	case ProfileDW:
		gather = "half the CPUs (at most 16): large scans and aggregates split across cores"
	case ProfileMixed:
		gather = "half the CPUs, at most 4: reports go parallel without starving the short queries"
	}
	p.setInt("parallel", "max_parallel_workers_per_gather", p.perGather, gather)
	p.setInt("parallel", "max_parallel_maintenance_workers", p.parallelMaintenance, "half the CPUs, at most 4: parallel index builds and VACUUM of indexes; they share maintenance_work_mem")
}
