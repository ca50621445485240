package pgconf

import "fmt"

// ioConcurrency is how many read-ahead requests each storage kind serves well at once.
var ioConcurrency = map[Storage]int{StorageHDD: 2, StorageSSD: 200, StorageSAN: 300, StorageNVMe: 1000}

func (p *plan) plannerSettings() {
	in := p.in
	switch in.Storage {
	case StorageHDD:
		p.setReal("planner", "random_page_cost", 4, "spinning disks: a random read costs about 4 sequential ones (PostgreSQL's default)")
	default:
		p.setReal("planner", "random_page_cost", 1.1, fmt.Sprintf("%s storage: random reads cost about as much as sequential ones, so index scans are priced fairly", in.Storage))
	}
	if in.OS == OSLinux {
		n := ioConcurrency[in.Storage]
		why := fmt.Sprintf("%s storage serves many reads at once: bitmap heap scans read ahead", in.Storage)
		if in.Storage == StorageHDD {
			why = "spinning disks: a little read-ahead for bitmap heap scans; more only queues behind the seek"
		}
		p.setInt("planner", "effective_io_concurrency", n, why)
		p.setInt("planner", "maintenance_io_concurrency", n, "the same read-ahead for VACUUM and index builds")
	}
	if in.Profile == ProfileDW {
		p.setInt("planner", "default_statistics_target", 500, "wide analytical queries: finer histograms for better row estimates (ANALYZE takes longer)")
	}
	if in.Profile == ProfileWeb || in.Profile == ProfileOLTP {
		p.set("planner", "jit", "off", "short queries pay JIT compilation's milliseconds and gain nothing")
	}
	if in.Version >= 18 {
		p.set("planner", "io_method", "worker", "PostgreSQL 18's asynchronous I/O through worker processes; io_uring is faster where the build has liburing and no seccomp profile blocks it (Docker's default does)")
		p.setInt("planner", "io_workers", min(32, max(3, in.CPUs/4)), "a quarter of the CPUs (3 to 32) issue the asynchronous reads")
	}
}
