package pgconf

import "fmt"

// workMemCap is the most work_mem each profile wants per sort or hash: short web and OLTP queries
// sort little; analytical ones sort and hash millions of rows.
var workMemCap = map[Profile]int64{
	ProfileWeb: 64 * MB, ProfileOLTP: 32 * MB, ProfileMixed: 128 * MB, ProfileDW: 1 * GB, ProfileDesktop: 32 * MB,
}

// windowsMaxKB: before 18, memory settings on Windows cannot reach 2GB (a long is 32 bits there).
const windowsMax = 2*GB - MB

func (p *plan) windowsCapped() bool { return p.in.OS == OSWindows && p.in.Version <= 17 }

// sizeMemory sets the memory figures that do not depend on the connection count.
func (p *plan) sizeMemory() {
	in := p.in
	ram := in.Memory
	if in.Profile == ProfileDesktop {
		p.sharedBuffers = niceBytes(ram / 16)
		p.effectiveCache = niceBytes(ram / 4)
	} else {
		p.sharedBuffers = niceBytes(ram / 4)
		p.effectiveCache = niceBytes(ram * 3 / 4)
		if s := p.signalFor("settings.cache_hit_ratio"); s != nil && in.Profile != ProfileDW {
			// The working set does not fit: a third of the RAM, still leaving the page cache most.
			p.sharedBuffers = niceBytes(ram / 3)
			p.adjusted("shared_buffers", s)
		}
	}
	// PostgreSQL's own automatic wal_buffers (-1): 1/32 of shared_buffers, at most one 16MB WAL
	// segment; many-core write-heavy servers wait less on WAL insertion with more.
	p.walBuffers = min(max(p.sharedBuffers/32, 64*KB), 16*MB)
	if in.Profile == ProfileOLTP && in.CPUs >= 16 && p.sharedBuffers >= 8*GB {
		p.walBuffers = 64 * MB
	}
	mwm := ram / 16
	if in.Profile == ProfileDW {
		mwm = ram / 8
	}
	p.maintenanceWorkMem = niceBytes(min(max(mwm, 16*MB), 2*GB))
	if p.windowsCapped() {
		p.maintenanceWorkMem = min(p.maintenanceWorkMem, windowsMax)
	}
	p.autovacuumWorkMem = min(p.maintenanceWorkMem, 512*MB)
	p.hashMemMultiplier = 2
}

func (p *plan) memorySettings() {
	in := p.in
	share := "a quarter of the RAM: the OS page cache holds the rest of the hot data"
	if in.Profile == ProfileDesktop {
		share = "1/16 of the RAM: a desktop shares its memory with other programs"
	}
	if p.sharedLowered {
		share = "lowered from its share of the RAM (down to PostgreSQL's default 128MB at least) so that the connections' own memory fits (see the notes)"
	}
	p.setBytes("memory", "shared_buffers", p.sharedBuffers, share)
	if hp := p.hugePages(); hp != nil {
		p.set("memory", "huge_pages", "try", fmt.Sprintf("%s of shared memory: reserve %d huge pages (vm.nr_hugepages) so the buffer mapping uses them; try falls back if they are missing", HumanBytes(hp.SharedMemory), hp.Pages))
	}
	p.setBytes("memory", "effective_cache_size", p.effectiveCache, "shared_buffers plus the page cache the OS will keep: a planner estimate, nothing is allocated")
	p.setBytes("memory", "work_mem", p.workMem, p.memory.WorkMemReason)
	hmm := "hash nodes may use 2 × work_mem before spilling (15's default, spelled out); counted in the memory budget"
	if in.Version < 15 {
		hmm = "hash nodes may use 2 × work_mem before spilling (15 raised the default from 1); counted in the memory budget"
	}
	p.setReal("memory", "hash_mem_multiplier", p.hashMemMultiplier, hmm)
	mwmReason := "RAM/16 (at most 2GB): faster index builds and VACUUM; counted twice in the memory budget"
	if in.Profile == ProfileDW {
		mwmReason = "RAM/8 (at most 2GB): large index builds; counted twice in the memory budget"
	}
	if p.memory.MaintenanceLowered {
		mwmReason = "lowered so the worst case fits the RAM (see the memory budget)"
	}
	p.setBytes("memory", "maintenance_work_mem", p.maintenanceWorkMem, mwmReason)
	p.setBytes("memory", "autovacuum_work_mem", p.autovacuumWorkMem,
		fmt.Sprintf("per autovacuum worker, %d of them: bounds their memory separately from manual maintenance (%s holds ~%dM dead tuples per pass before 17)",
			p.autovacuumWorkers, FormatBytes(p.autovacuumWorkMem), p.autovacuumWorkMem/6/1_000_000))
	p.setBytes("wal", "wal_buffers", p.walBuffers, p.walBuffersReason())
}

func (p *plan) walBuffersReason() string {
	if p.walBuffers == 64*MB {
		return "many cores writing at once: fewer waits to insert WAL"
	}
	return "1/32 of shared_buffers, at most one 16MB WAL segment (what -1 would choose, spelled out)"
}

// HugePages is the huge-page reservation for the shared memory.
type HugePages struct {
	PageSize int64 `json:"page_size_bytes"`
	// SharedMemory estimates the main shared memory segment: shared_buffers, their descriptors,
	// WAL buffers, lock and process tables.
	SharedMemory int64 `json:"shared_memory_bytes"`
	Pages        int64 `json:"pages"`
	// Command gives the exact figure on the server itself (PostgreSQL 15+).
	Command string `json:"command,omitempty"`
}

// hugePages is the reservation on Linux when shared_buffers is large enough for huge pages to
// matter (2GB: the page tables of hundreds of backends mapping it cost more than the pages).
func (p *plan) hugePages() *HugePages {
	if p.in.OS != OSLinux || p.sharedBuffers < 2*GB {
		return nil
	}
	backends := int64(p.budget.MaxConnections + p.maxWorkerProcesses + p.autovacuumWorkers + 10)
	// Buffer descriptors, the buffer mapping table and checkpoint sort space come to about 2 % of
	// shared_buffers; each backend's PGPROC, lock table share (64 locks) and snapshot arrays
	// about 40kB; the fixed structures (CLOG, subtransaction and multixact buffers, stats) stay
	// under 64MB up to PostgreSQL 18.
	shm := p.sharedBuffers + p.sharedBuffers/50 + p.walBuffers + backends*40*KB + 64*MB
	page := p.in.hugePageSize()
	hp := &HugePages{PageSize: page, SharedMemory: shm, Pages: ceilDiv(shm, page)}
	if p.in.Version >= 15 {
		hp.Command = "postgres -D \"$PGDATA\" -C shared_memory_size_in_huge_pages"
	}
	return hp
}
