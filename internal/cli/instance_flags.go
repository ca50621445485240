package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/bookedbarber/pgtune/pgconf"
	"github.com/bookedbarber/pgtune/pgconf/detect"
)

// instanceFlags are the instance model's flags, shared by config and pgbouncer so that both
// size from the same model and print the same connection budget.
type instanceFlags struct {
	memory, storage, profile, os, hugePageSize string
	cpus, version                              int
	detect                                     bool
	appInstances, appPoolSize                  int
	pooler                                     bool
	poolerHosts, poolerProcesses, pools        int
	maxConnections, directConnections          int
	replicas, appReadPoolSize                  int

	// hostRoot is where --detect reads the host's /proc and /sys.
	hostRoot string
}

func (f *instanceFlags) add(fs *flagSet, poolerDefault bool) {
	fs.StringVar(&f.memory, "memory", "", "RAM for PostgreSQL, with a unit: 16GB, 512MB, 5632Mi (required unless --detect)")
	fs.IntVar(&f.cpus, "cpus", 0, "CPUs (required unless --detect)")
	fs.BoolVar(&f.detect, "detect", false, "read RAM, CPUs and storage from this host, honouring cgroup v1/v2 limits (containers, Kubernetes); explicit flags win")
	fs.StringVar(&f.storage, "storage", "", "storage: hdd, ssd, san or nvme (default ssd, or detected)")
	fs.StringVar(&f.profile, "profile", "web", "workload: web, oltp, dw, mixed or desktop")
	fs.IntVar(&f.version, "pg-version", 0, fmt.Sprintf("PostgreSQL major, %d to %d (default %d, or the server's with --dsn)", pgconf.MinVersion, pgconf.MaxVersion, pgconf.MaxVersion))
	fs.StringVar(&f.os, "os", "linux", "server OS: linux, windows or mac")
	fs.IntVar(&f.appInstances, "app-instances", 0, "application processes (pods, servers) that connect")
	fs.IntVar(&f.appPoolSize, "app-pool-size", 0, "connections each application process pools")
	fs.BoolVar(&f.pooler, "pooler", poolerDefault, "PgBouncer sits between the application and PostgreSQL")
	fs.IntVar(&f.poolerHosts, "pooler-hosts", 1, "PgBouncer hosts or replicas")
	fs.IntVar(&f.poolerProcesses, "pooler-processes", 1, "PgBouncer processes per host sharing the port (so_reuseport)")
	fs.IntVar(&f.pools, "pools", 1, "(database, user) pairs PgBouncer pools")
	fs.IntVar(&f.maxConnections, "max-connections", 0, "fix max_connections instead of deriving it from the budget")
	fs.IntVar(&f.directConnections, "direct-connections", 0, "connections that bypass the pool (migrations, maintenance, monitoring, backups); default: itemised, 9")
	fs.IntVar(&f.replicas, "replicas", 0, "streaming read replicas of this size: renders the replication settings (one file for every node) and sizes max_connections for a replica's reads too")
	fs.IntVar(&f.appReadPoolSize, "app-read-pool-size", 0, "with --replicas: connections each application process pools to the replicas (default: --app-pool-size)")
	fs.StringVar(&f.hugePageSize, "huge-page-size", "2MB", "the kernel's huge page size: 2MB or 1GB")
	fs.StringVar(&f.hostRoot, "host-root", "/", "where --detect finds the host's /proc and /sys (e.g. /host in a sidecar that mounts them there)")
}

// flagOf maps a pgconf.ValidationError field to its flag.
var flagOf = map[string]string{
	"memory": "--memory", "cpus": "--cpus", "storage": "--storage", "profile": "--profile",
	"version": "--pg-version", "os": "--os", "app_instances": "--app-instances", "app_pool_size": "--app-pool-size",
	"pooler_hosts": "--pooler-hosts", "pooler_processes": "--pooler-processes", "pools": "--pools",
	"max_connections": "--max-connections", "direct_connections": "--direct-connections", "huge_page_size": "--huge-page-size",
	"replicas": "--replicas", "app_read_pool_size": "--app-read-pool-size",
}

// usageFromModel turns the instance model's complaints into usage errors naming the flag.
func usageFromModel(cmd string, err error) error {
	var ve *pgconf.ValidationError
	if errors.As(err, &ve) {
		return usageErrorf("%s: %s %s", cmd, flagOf[ve.Field], ve.Msg)
	}
	return err
}

// instance builds the instance model from the flags (and the host, with --detect). serverVersion
// is the live server's major (0: none). The lines returned say what was detected.
func (f *instanceFlags) instance(fs *flagSet, serverVersion int) (pgconf.Instance, []string, error) {
	cmd := fs.cmd.name
	in := pgconf.Instance{
		CPUs: f.cpus, Storage: pgconf.Storage(strings.ToLower(f.storage)), Profile: pgconf.Profile(strings.ToLower(f.profile)),
		Version: f.version, OS: pgconf.OS(strings.ToLower(f.os)),
		AppInstances: f.appInstances, AppPoolSize: f.appPoolSize,
		Pooler: f.pooler, PoolerHosts: f.poolerHosts, PoolerProcesses: f.poolerProcesses, Pools: f.pools,
		MaxConnections: f.maxConnections, DirectConnections: f.directConnections,
		Replicas: f.replicas, AppReadPoolSize: f.appReadPoolSize,
	}
	var detected []string
	if f.memory != "" {
		b, err := pgconf.ParseBytes(f.memory)
		if errors.Is(err, pgconf.ErrNoUnit) {
			return in, nil, usageErrorf("%s: --memory %s needs a unit, e.g. --memory %sGB or --memory %sMB", cmd, f.memory, f.memory, f.memory)
		}
		if err != nil {
			return in, nil, usageErrorf("%s: --memory %w (e.g. --memory 16GB)", cmd, err)
		}
		in.Memory = b
	}
	if f.detect {
		root := f.hostRoot
		if root == "" {
			root = "/"
		}
		h, err := detect.Detect(os.DirFS(root), runtime.NumCPU())
		if err != nil {
			return in, nil, usageErrorf("%s: --detect: %w", cmd, err)
		}
		if !fs.isSet("memory") {
			in.Memory = h.Memory
			detected = append(detected, fmt.Sprintf("memory %s from %s", pgconf.HumanBytes(h.Memory), h.MemorySource))
		}
		if !fs.isSet("cpus") {
			in.CPUs = h.CPUs
			detected = append(detected, fmt.Sprintf("%d CPU(s) from %s", h.CPUs, h.CPUSource))
		}
		if !fs.isSet("storage") {
			if h.Storage != "" {
				in.Storage = h.Storage
				detected = append(detected, fmt.Sprintf("%s storage from %s", h.Storage, h.StorageSource))
			} else {
				detected = append(detected, "storage not detected ("+h.StorageSource+"); ssd assumed")
			}
		}
	} else {
		if f.memory == "" {
			return in, nil, usageErrorf("%s: --memory is required (e.g. --memory 16GB), or --detect to read this host", cmd)
		}
		if !fs.isSet("cpus") {
			return in, nil, usageErrorf("%s: --cpus is required (e.g. --cpus 4), or --detect to read this host", cmd)
		}
	}
	if in.Storage == "" {
		in.Storage = pgconf.StorageSSD
	}
	if in.Version == 0 {
		in.Version = pgconf.MaxVersion
		if serverVersion > 0 {
			in.Version = serverVersion
		}
	} else if serverVersion > 0 && in.Version != serverVersion {
		return in, nil, usageErrorf("%s: --pg-version %d but the server runs PostgreSQL %d; drop --pg-version to size for the server", cmd, in.Version, serverVersion)
	}
	if f.hugePageSize != "" {
		b, err := pgconf.ParseBytes(f.hugePageSize)
		if err != nil {
			return in, nil, usageErrorf("%s: --huge-page-size %s: want 2MB or 1GB", cmd, f.hugePageSize)
		}
		in.HugePageSize = b
	}
	if err := in.Validate(); err != nil {
		return in, nil, usageFromModel(cmd, err)
	}
	return in, detected, nil
}
