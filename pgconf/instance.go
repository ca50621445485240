// Package pgconf is pgtune's model of a PostgreSQL instance and the heuristics that size its
// settings: pure, with no I/O, so every rule is matrix-tested without a server.
//
// Recommend turns an Instance (memory, CPUs, storage, workload profile, major version, OS, the
// application's connections and whether PgBouncer sits in front) into a Config: every setting with
// a one-line reason, the connection budget that config and pgbouncer share, and the worst-case
// memory budget it proves. One file per settings group (memory.go, wal.go, planner.go,
// parallel.go, autovacuum.go, observability.go, connections.go); budget.go fits work_mem (and, when
// it must, the connections) inside the RAM. Rendering lives in pgconf/conffile, host detection in
// pgconf/detect, live right-sizing rules in live.go.
package pgconf

import (
	"fmt"
	"slices"
	"strings"
)

// Storage is the kind of disk the data directory is on.
type Storage string

// Storage kinds.
const (
	StorageHDD  Storage = "hdd"
	StorageSSD  Storage = "ssd"
	StorageSAN  Storage = "san"
	StorageNVMe Storage = "nvme"
)

// Profile is the workload the instance serves.
type Profile string

// Workload profiles.
const (
	ProfileWeb     Profile = "web"     // many short queries from web apps
	ProfileOLTP    Profile = "oltp"    // write-heavy transactions
	ProfileDW      Profile = "dw"      // few large analytical queries
	ProfileMixed   Profile = "mixed"   // both
	ProfileDesktop Profile = "desktop" // a developer's machine shared with other programs
)

// OS is the server's operating system.
type OS string

// Operating systems.
const (
	OSLinux   OS = "linux"
	OSWindows OS = "windows"
	OSMac     OS = "mac"
)

// Supported majors.
const (
	MinVersion = 13
	MaxVersion = 18
)

// Instance is what pgtune knows of the server and its clients. Zero values mean "unknown" where
// the field says so; Defaults fills them.
type Instance struct {
	// Memory is the RAM available to PostgreSQL: the host's, or the container's limit.
	Memory int64 `json:"memory_bytes"`
	CPUs   int   `json:"cpus"`
	// Storage is where the data lives.
	Storage Storage `json:"storage"`
	Profile Profile `json:"profile"`
	// Version is the PostgreSQL major (13–18).
	Version int `json:"version"`
	OS      OS  `json:"os"`

	// AppInstances × AppPoolSize is how many connections the application opens at most. Zero:
	// unknown, the profile's customary client count is assumed (and said).
	AppInstances int `json:"app_instances,omitempty"`
	AppPoolSize  int `json:"app_pool_size,omitempty"`

	// Pooler: PgBouncer sits between the application and the server.
	Pooler bool `json:"pooler"`
	// PoolerHosts is how many PgBouncer hosts (or replicas) serve the database; 0 means 1.
	PoolerHosts int `json:"pooler_hosts,omitempty"`
	// PoolerProcesses is how many PgBouncer processes share a port on each host (so_reuseport);
	// 0 means 1.
	PoolerProcesses int `json:"pooler_processes,omitempty"`
	// Pools is how many (database, user) pairs each PgBouncer process pools; 0 means 1.
	Pools int `json:"pools,omitempty"`

	// MaxConnections fixes max_connections (0: derived from the connection budget).
	MaxConnections int `json:"max_connections,omitempty"`
	// DirectConnections replaces the itemised allowance for connections that bypass the pooler
	// (migrations, maintenance, monitoring, backups); -1 keeps the default itemisation.
	DirectConnections int `json:"direct_connections,omitempty"`

	// Replicas is how many streaming read replicas of this size the primary feeds (0: none). One
	// configuration then serves every node (replication.go), and the connection budget covers
	// a replica's share of the reads as well as the primary's writes.
	Replicas int `json:"replicas,omitempty"`
	// AppReadPoolSize is the connections each application process pools to the replicas (its
	// reads); 0 with replicas: as many as AppPoolSize.
	AppReadPoolSize int `json:"app_read_pool_size,omitempty"`

	// HugePageSize is the kernel's huge page size (0: 2MB, x86-64's default).
	HugePageSize int64 `json:"huge_page_size_bytes,omitempty"`
}

// Profiles, storages and OSes, for flag help and validation.
var (
	Profiles = []Profile{ProfileWeb, ProfileOLTP, ProfileDW, ProfileMixed, ProfileDesktop}
	Storages = []Storage{StorageHDD, StorageSSD, StorageSAN, StorageNVMe}
	OSes     = []OS{OSLinux, OSWindows, OSMac}
)

// MinMemory is the least RAM pgtune sizes for: below it PostgreSQL's defaults are already right.
const MinMemory = 512 * MB

// ValidationError names the field that is wrong and the form that is expected; the CLI maps Field
// to its flag.
type ValidationError struct {
	Field string // memory, cpus, storage, profile, version, os, app_instances, ...
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports the first field that cannot be sized for.
func (in Instance) Validate() error {
	switch {
	case in.Memory < MinMemory:
		return invalid("memory", "%s is below the %s pgtune sizes for", HumanBytes(in.Memory), HumanBytes(MinMemory))
	case in.Memory > 64*TB:
		return invalid("memory", "%s is more than the 64 TB pgtune sizes for", HumanBytes(in.Memory))
	case in.CPUs < 1 || in.CPUs > 1024:
		return invalid("cpus", "%d is not a CPU count (want 1 to 1024)", in.CPUs)
	case !slices.Contains(Storages, in.Storage):
		return invalid("storage", "%q is not a storage kind (want %s)", in.Storage, join(Storages))
	case !slices.Contains(Profiles, in.Profile):
		return invalid("profile", "%q is not a profile (want %s)", in.Profile, join(Profiles))
	case in.Version < MinVersion || in.Version > MaxVersion:
		return invalid("version", "%d is not supported (want a PostgreSQL major from %d to %d)", in.Version, MinVersion, MaxVersion)
	case !slices.Contains(OSes, in.OS):
		return invalid("os", "%q is not an OS (want %s)", in.OS, join(OSes))
	case in.AppInstances < 0 || in.AppInstances > 100000:
		return invalid("app_instances", "%d is not an instance count (want 1 to 100000)", in.AppInstances)
	case in.AppPoolSize < 0 || in.AppPoolSize > 100000:
		return invalid("app_pool_size", "%d is not a pool size (want 1 to 100000)", in.AppPoolSize)
	case (in.AppInstances == 0) != (in.AppPoolSize == 0):
		return invalid("app_instances", "and the application's pool size go together: give both (--app-instances N --app-pool-size M) or neither")
	case in.PoolerHosts < 0 || in.PoolerHosts > 1000:
		return invalid("pooler_hosts", "%d is not a host count (want 1 to 1000)", in.PoolerHosts)
	case in.PoolerProcesses < 0 || in.PoolerProcesses > 256:
		return invalid("pooler_processes", "%d is not a process count (want 1 to 256)", in.PoolerProcesses)
	case in.Pools < 0 || in.Pools > 10000:
		return invalid("pools", "%d is not a pool count (want 1 to 10000)", in.Pools)
	case in.MaxConnections < 0 || in.MaxConnections > 262143:
		return invalid("max_connections", "%d is outside PostgreSQL's range (1 to 262143)", in.MaxConnections)
	case in.MaxConnections > 0 && in.MaxConnections <= SuperuserReserved:
		return invalid("max_connections", "%d must be more than superuser_reserved_connections (%d), or the server refuses to start", in.MaxConnections, SuperuserReserved)
	case in.DirectConnections < -1 || in.DirectConnections > 10000:
		return invalid("direct_connections", "%d is not a connection count (want 0 to 10000)", in.DirectConnections)
	case in.Replicas < 0 || in.Replicas > 100:
		return invalid("replicas", "%d is not a replica count (want 0 to 100)", in.Replicas)
	case in.AppReadPoolSize < 0 || in.AppReadPoolSize > 100000:
		return invalid("app_read_pool_size", "%d is not a pool size (want 1 to 100000)", in.AppReadPoolSize)
	case in.AppReadPoolSize > 0 && in.Replicas == 0:
		return invalid("app_read_pool_size", "is the application's pool to the read replicas: give --replicas N too")
	case in.AppReadPoolSize > 0 && in.AppInstances == 0:
		return invalid("app_read_pool_size", "needs --app-instances (and --app-pool-size): the read pool is per application process")
	case in.HugePageSize != 0 && in.HugePageSize != 2*MB && in.HugePageSize != GB:
		return invalid("huge_page_size", "%s is not a huge page size (want 2MB or 1GB)", HumanBytes(in.HugePageSize))
	}
	return nil
}

func join[T ~string](set []T) string {
	out := make([]string, len(set))
	for i, s := range set {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

func (in Instance) poolerHosts() int     { return max(in.PoolerHosts, 1) }
func (in Instance) poolerProcesses() int { return max(in.PoolerProcesses, 1) }
func (in Instance) pools() int           { return max(in.Pools, 1) }
func (in Instance) hugePageSize() int64 {
	if in.HugePageSize == 0 {
		return 2 * MB
	}
	return in.HugePageSize
}
