package pgconf

import "fmt"

// MemoryBudget is the worst case pgtune proves: every backend running its heaviest plan at once,
// every autovacuum worker and two maintenance sessions at full memory, on top of the shared
// memory. It must stay within the RAM less the headroom the OS needs.
type MemoryBudget struct {
	RAM int64 `json:"ram_bytes"`
	// Available is the RAM less the OS headroom (a tenth, at least 128MB; a desktop keeps half for
	// other programs).
	Available int64 `json:"available_bytes"`
	// Backends is max_connections plus max_parallel_workers: every process that may sort.
	Backends int `json:"backends"`
	// Sorts and Hashes are the work_mem-sized nodes one plan is assumed to run at once.
	Sorts  int `json:"sorts_per_query"`
	Hashes int `json:"hashes_per_query"`
	// BackendOverhead is each backend's private memory before any sort (catalog and plan caches).
	BackendOverhead     int64        `json:"backend_overhead_bytes"`
	MaintenanceSessions int          `json:"maintenance_sessions"`
	Lines               []BudgetLine `json:"lines"`
	WorstCase           int64        `json:"worst_case_bytes"`
	// OverBy is how far the worst case exceeds the available memory (0: it fits): the
	// configuration is then the tightest pgtune can render, not a proven fit, and the notes say so
	// first (config --strict-memory refuses it).
	OverBy int64 `json:"over_by_bytes,omitempty"`
	// WorkMemReason explains work_mem's value.
	WorkMemReason      string `json:"-"`
	MaintenanceLowered bool   `json:"-"`
}

// BudgetLine is one term of the worst case.
type BudgetLine struct {
	Item  string `json:"item"`
	Bytes int64  `json:"bytes"`
	How   string `json:"how"`
}

// Fits reports whether the worst case stays within the available memory.
func (m MemoryBudget) Fits() bool { return m.WorstCase <= m.Available }

// Assumptions of the worst case.
const (
	backendOverhead     = 4 * MB
	maintenanceSessions = 2 // an index build and a manual VACUUM (or two pgtune maintain jobs)
	workMemFloor        = 4 * MB
	workMemLastResort   = 1 * MB
	workMemMinimum      = 64 * KB  // PostgreSQL's lowest work_mem
	sharedBuffersFloor  = 128 * MB // PostgreSQL's default shared_buffers
)

// nodes is how many sorts and hashes one query is assumed to run at once.
func (p *plan) nodes() (sorts, hashes int) {
	if p.in.Profile == ProfileDW || p.in.Profile == ProfileMixed {
		return 2, 2
	}
	return 1, 1
}

func (p *plan) available() int64 {
	ram := p.in.Memory
	if p.in.Profile == ProfileDesktop {
		return ram / 2
	}
	return ram - max(ram/10, 128*MB)
}

// maintenanceFloor is as low as fit lowers maintenance_work_mem: 64MB, less on small machines.
func (p *plan) maintenanceFloor() int64 { return min(64*MB, p.in.Memory/32) }

// perBackendWork is the work memory one backend's plan may hold for a work_mem of wm.
func (p *plan) perBackendWork(wm int64) int64 {
	sorts, hashes := p.nodes()
	return wm*int64(sorts) + int64(float64(wm)*p.hashMemMultiplier)*int64(hashes)
}

// fixedMemory is everything in the worst case but work_mem.
func (p *plan) fixedMemory() int64 {
	backends := int64(p.budget.MaxConnections + p.maxParallelWorkers)
	return p.sharedBuffers + p.walBuffers + backends*backendOverhead +
		int64(p.autovacuumWorkers)*(p.autovacuumWorkMem+backendOverhead) +
		maintenanceSessions*p.maintenanceWorkMem
}

// workMemFit is the largest work_mem the worst case allows.
func (p *plan) workMemFit() int64 {
	free := p.available() - p.fixedMemory()
	if free <= 0 {
		return 0
	}
	backends := int64(p.budget.MaxConnections + p.maxParallelWorkers)
	return free / backends * KB / p.perBackendWork(KB) // per-backend work is linear in work_mem
}

// fit chooses work_mem and, when the RAM cannot hold the connections, lowers what it may: first
// maintenance memory, then the connections pgtune chose itself (pool sizes, or the profile's
// assumed client count), parallel workers, then shared_buffers down to 128MB. Connections the
// user fixed are never lowered: if they cannot fit even with a 1MB work_mem, the tightest
// configuration is rendered (work_mem down to 64kB) with MemoryBudget.OverBy and a note saying
// by how much and what to change.
func (p *plan) fit() error {
	if err := p.checkBudget(); err != nil {
		return err
	}
	if err := p.checkReplicaBudget(); err != nil {
		return err
	}
	want := workMemCap[p.in.Profile]
	if s := p.signalFor("settings.temp_spills"); s != nil && s.Suggest != "" {
		if b, err := ParseBytes(s.Suggest); err == nil && b > want {
			want = b
			p.adjusted("work_mem", s)
		}
	}
	fitted := p.workMemFit()
	if fitted < workMemFloor {
		for p.maintenanceWorkMem > p.maintenanceFloor() && p.workMemFit() < workMemFloor {
			p.maintenanceWorkMem = max(p.maintenanceFloor(), niceBytes(p.maintenanceWorkMem/2))
			p.autovacuumWorkMem = min(p.autovacuumWorkMem, p.maintenanceWorkMem)
			p.memory.MaintenanceLowered = true
		}
		if p.memory.MaintenanceLowered {
			p.note("maintenance_work_mem lowered to %s so that the worst case fits %s.", FormatBytes(p.maintenanceWorkMem), HumanBytes(p.in.Memory))
		}
	}
	if p.workMemFit() < workMemFloor && p.in.MaxConnections == 0 {
		p.shrinkConnections()
	}
	if p.workMemFit() < workMemFloor && p.maxParallelWorkers > 0 {
		// Every parallel worker is one more backend sorting with its own work_mem.
		p.maxParallelWorkers, p.perGather, p.parallelMaintenance = 0, 0, 0
		p.maxWorkerProcesses = max(8, extensionWorkers)
		p.note("Parallel query turned off: on %s each parallel worker's sorts would not fit beside %d connections.", HumanBytes(p.in.Memory), p.budget.MaxConnections)
	}
	if p.workMemFit() < workMemLastResort && p.sharedBuffers > sharedBuffersFloor {
		// Backends' own memory matters more than a large cache when they cannot fit: down to
		// PostgreSQL's default 128MB.
		before := p.sharedBuffers
		p.sharedLowered = true
		for p.sharedBuffers > sharedBuffersFloor && p.workMemFit() < workMemLastResort {
			p.sharedBuffers = max(sharedBuffersFloor, niceBytes(p.sharedBuffers/2))
			p.walBuffers = min(max(p.sharedBuffers/32, 64*KB), 16*MB)
		}
		p.note("shared_buffers lowered from %s to %s so that %d connections fit %s.", FormatBytes(before), FormatBytes(p.sharedBuffers), p.budget.MaxConnections, HumanBytes(p.in.Memory))
	}
	fitted = p.workMemFit()
	sorts, hashes := p.nodes()
	backends := p.budget.MaxConnections + p.maxParallelWorkers
	switch {
	case fitted >= want:
		p.workMem = want
		p.memory.WorkMemReason = fmt.Sprintf("the %s profile's ceiling; the worst case (%d backends × %d sort + %d hash nodes) still fits", p.in.Profile, backends, sorts, hashes)
	case fitted >= workMemFloor:
		p.workMem = niceBytes(fitted)
		p.memory.WorkMemReason = fmt.Sprintf("the most that fits: %d backends × (%d sort + %d hash × %g) nodes within the RAM left after shared memory and maintenance", backends, sorts, hashes, p.hashMemMultiplier)
		if !p.in.Pooler && p.workMem < want/2 {
			p.note("work_mem is %s, below the %s profile's %s, because %d backends could each sort at once; PgBouncer in front (--pooler) needs far fewer server connections and allows more.", FormatBytes(p.workMem), p.in.Profile, FormatBytes(want), backends)
		}
	case fitted >= workMemLastResort:
		p.workMem = niceBytes(fitted)
		p.memory.WorkMemReason = fmt.Sprintf("lowered below PostgreSQL's 4MB default so that %d backends fit the RAM", backends)
		p.note("work_mem is only %s: the %d connections given cannot sort in memory safely on %s; put PgBouncer in front (--pooler), lower the application's pool, or add memory.", FormatBytes(p.workMem), p.budget.MaxConnections, HumanBytes(p.in.Memory))
	default:
		// No worst case can be proven to fit: the tightest configuration, said loudly (the
		// budget shows by how much; --strict-memory makes this a failure).
		p.workMem = max(workMemMinimum, niceBytes(max(fitted, 0)))
		p.memory.WorkMemReason = fmt.Sprintf("lowered below 1MB so that %d backends fit the RAM: sorts of any size spill to disk", backends)
		if fitted < workMemMinimum {
			p.memory.WorkMemReason = fmt.Sprintf("the tightest setting: %d backends cannot all sort at once within the RAM, whatever work_mem is (see the memory budget's WARNING)", backends)
		}
	}
	if p.windowsCapped() {
		p.workMem = min(p.workMem, windowsMax)
	}
	p.buildMemoryBudget()
	if over := p.memory.WorstCase - p.memory.Available; over > 0 {
		p.memory.OverBy = over
		p.notes = append([]string{fmt.Sprintf("THE WORST CASE DOES NOT FIT: %d backends all running their heaviest plan at once would need %s, %s more than the %s available on %s. "+
			"This is the tightest configuration pgtune can render; under such a peak the server may run out of memory. To fit: put PgBouncer in front (--pooler), "+
			"lower --max-connections or --app-pool-size, or give the server more memory ('pgtune config --strict-memory' makes this an error, for CI).",
			backends, HumanBytes(p.memory.WorstCase), HumanBytes(over), HumanBytes(p.memory.Available), HumanBytes(p.in.Memory))}, p.notes...)
	}
	return nil
}

// shrinkConnections lowers the connections pgtune chose until work_mem can reach its floor.
func (p *plan) shrinkConnections() {
	if p.in.Pooler {
		before := p.poolSize
		beforeRead := p.readPoolSize
		for (p.poolSize > 1 || p.readPoolSize > 1) && p.workMemFit() < workMemFloor {
			// The pool that sets max_connections (the replicas' read pool may) shrinks first.
			if rb := p.budget.Replica; rb != nil && rb.Needed > p.budget.Needed && p.readPoolSize > 1 {
				p.readPoolSize--
			} else if p.poolSize > 1 {
				p.poolSize--
			} else {
				p.readPoolSize--
			}
			p.buildBudget()
		}
		if p.poolSize < before {
			p.note("PgBouncer's default_pool_size lowered from %d to %d so that the worst case fits %s.", before, p.poolSize, HumanBytes(p.in.Memory))
		}
		if p.readPoolSize < beforeRead {
			p.note("PgBouncer's read pool lowered from %d to %d so that the worst case fits %s.", beforeRead, p.readPoolSize, HumanBytes(p.in.Memory))
		}
		return
	}
	if p.clientsSaid {
		return
	}
	before := p.clients
	for p.clients > 5 && p.workMemFit() < workMemFloor {
		p.clients = max(5, p.clients*9/10)
		if p.in.AppReadPoolSize == 0 {
			p.readClients = min(p.readClients, p.clients)
		}
		p.buildBudget()
	}
	if p.clients < before {
		p.note("The assumed %d application connections lowered to %d so that the worst case fits %s; PgBouncer in front (--pooler) serves more clients with fewer server connections.", before, p.clients, HumanBytes(p.in.Memory))
	}
}

func (p *plan) buildMemoryBudget() {
	sorts, hashes := p.nodes()
	backends := p.budget.MaxConnections + p.maxParallelWorkers
	m := &p.memory
	m.RAM, m.Available, m.Backends = p.in.Memory, p.available(), backends
	m.Sorts, m.Hashes, m.BackendOverhead, m.MaintenanceSessions = sorts, hashes, backendOverhead, maintenanceSessions
	m.Lines = []BudgetLine{
		{"shared_buffers + wal_buffers", p.sharedBuffers + p.walBuffers, "allocated at start"},
		{"backends' private memory", int64(backends) * backendOverhead,
			fmt.Sprintf("%d backends (max_connections %d + %d parallel workers) × %s", backends, p.budget.MaxConnections, p.maxParallelWorkers, HumanBytes(backendOverhead))},
		{"sorts and hashes", int64(backends) * p.perBackendWork(p.workMem),
			fmt.Sprintf("%d backends × (%d × work_mem + %d × work_mem × hash_mem_multiplier %g), work_mem %s", backends, sorts, hashes, p.hashMemMultiplier, FormatBytes(p.workMem))},
		{"autovacuum workers", int64(p.autovacuumWorkers) * (p.autovacuumWorkMem + backendOverhead),
			fmt.Sprintf("%d × (autovacuum_work_mem %s + %s)", p.autovacuumWorkers, FormatBytes(p.autovacuumWorkMem), HumanBytes(backendOverhead))},
		{"maintenance sessions", maintenanceSessions * p.maintenanceWorkMem,
			fmt.Sprintf("%d × maintenance_work_mem %s (an index build and a manual VACUUM)", maintenanceSessions, FormatBytes(p.maintenanceWorkMem))},
	}
	m.WorstCase = 0
	for _, l := range m.Lines {
		m.WorstCase += l.Bytes
	}
}
