package pgconf

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestWALSettings(t *testing.T) {
	tests := []struct {
		profile                  Profile
		version                  int
		minWAL, maxWAL, compress string
		checkpointTimeout        string
	}{
		{ProfileWeb, 17, "1GB", "4GB", "lz4", "15min"},
		{ProfileOLTP, 15, "4GB", "16GB", "lz4", "15min"},
		{ProfileDW, 14, "4GB", "16GB", "on", "15min"}, // lz4 came with 15
		{ProfileMixed, 13, "2GB", "8GB", "on", "15min"},
		{ProfileDesktop, 18, "512MB", "2GB", "lz4", ""}, // a desktop keeps the 5min default
	}
	for _, tt := range tests {
		in := base()
		in.Profile, in.Version = tt.profile, tt.version
		c := mustRecommend(t, in)
		got := [4]string{c.Get("min_wal_size"), c.Get("max_wal_size"), c.Get("wal_compression"), c.Get("checkpoint_timeout")}
		if want := [4]string{tt.minWAL, tt.maxWAL, tt.compress, tt.checkpointTimeout}; got != want {
			t.Errorf("%s %d: min/max_wal_size, wal_compression, checkpoint_timeout = %v, want %v", tt.profile, tt.version, got, want)
		}
	}
}

func TestPlannerSettings(t *testing.T) {
	tests := []struct {
		storage                      Storage
		os                           OS
		profile                      Profile
		version                      int
		rpc, eio, jit, ioMethod, dst string
	}{
		{StorageSSD, OSLinux, ProfileWeb, 17, "1.1", "200", "off", "", ""},
		{StorageHDD, OSLinux, ProfileOLTP, 17, "4", "2", "off", "", ""},
		{StorageSAN, OSLinux, ProfileMixed, 16, "1.1", "300", "", "", ""},
		{StorageNVMe, OSLinux, ProfileDW, 18, "1.1", "1000", "", "worker", "500"},
		{StorageSSD, OSMac, ProfileWeb, 18, "1.1", "", "off", "worker", ""}, // no posix_fadvise read-ahead on macOS
		{StorageSSD, OSWindows, ProfileWeb, 13, "1.1", "", "off", "", ""},
	}
	for _, tt := range tests {
		in := base()
		in.Storage, in.OS, in.Profile, in.Version = tt.storage, tt.os, tt.profile, tt.version
		c := mustRecommend(t, in)
		got := [5]string{c.Get("random_page_cost"), c.Get("effective_io_concurrency"), c.Get("jit"), c.Get("io_method"), c.Get("default_statistics_target")}
		if want := [5]string{tt.rpc, tt.eio, tt.jit, tt.ioMethod, tt.dst}; got != want {
			t.Errorf("%s %s %s %d: random_page_cost, effective_io_concurrency, jit, io_method, default_statistics_target = %v, want %v", tt.storage, tt.os, tt.profile, tt.version, got, want)
		}
	}
}

func TestParallelSettings(t *testing.T) {
	tests := []struct {
		cpus    int
		profile Profile
		want    [4]string // max_worker_processes, max_parallel_workers, per gather, maintenance
	}{
		{1, ProfileWeb, [4]string{"8", "0", "0", "0"}},
		{2, ProfileWeb, [4]string{"8", "2", "1", "1"}},
		{4, ProfileOLTP, [4]string{"8", "4", "2", "2"}},
		{16, ProfileWeb, [4]string{"20", "16", "2", "4"}},
		{16, ProfileMixed, [4]string{"20", "16", "4", "4"}},
		{16, ProfileDW, [4]string{"20", "16", "8", "4"}},
		{64, ProfileDW, [4]string{"68", "64", "16", "4"}},
	}
	for _, tt := range tests {
		in := base()
		in.CPUs, in.Profile, in.Memory = tt.cpus, tt.profile, 128*GB
		c := mustRecommend(t, in)
		got := [4]string{c.Get("max_worker_processes"), c.Get("max_parallel_workers"), c.Get("max_parallel_workers_per_gather"), c.Get("max_parallel_maintenance_workers")}
		if got != tt.want {
			t.Errorf("%d CPUs %s: %v, want %v", tt.cpus, tt.profile, got, tt.want)
		}
	}
}

func TestAutovacuumSettings(t *testing.T) {
	tests := []struct {
		cpus                      int
		mem                       int64
		storage                   Storage
		version                   int
		workers, costLimit, slots string
	}{
		{4, 16 * GB, StorageSSD, 17, "3", "2000", ""},
		{8, 16 * GB, StorageHDD, 17, "4", "400", ""},
		{16, 64 * GB, StorageSAN, 17, "5", "1000", ""},
		{64, 256 * GB, StorageNVMe, 18, "6", "2000", ""},
		{64, 2 * GB, StorageNVMe, 17, "3", "2000", ""}, // a small machine keeps three workers' memory
	}
	for _, tt := range tests {
		in := base()
		in.CPUs, in.Memory, in.Storage, in.Version = tt.cpus, tt.mem, tt.storage, tt.version
		c := mustRecommend(t, in)
		got := [3]string{c.Get("autovacuum_max_workers"), c.Get("autovacuum_vacuum_cost_limit"), c.Get("autovacuum_worker_slots")}
		if want := [3]string{tt.workers, tt.costLimit, tt.slots}; got != want {
			t.Errorf("%d CPUs %s %s: %v, want %v", tt.cpus, HumanBytes(tt.mem), tt.storage, got, want)
		}
	}
	in := base()
	in.Version = 13
	for _, s := range mustRecommend(t, in).Settings {
		if s.Name == "autovacuum_max_workers" && !s.Restart {
			t.Error("autovacuum_max_workers needs a restart before 18")
		}
	}
	in.Version = 18
	for _, s := range mustRecommend(t, in).Settings {
		if s.Name == "autovacuum_max_workers" && s.Restart {
			t.Error("autovacuum_max_workers only needs a reload on 18")
		}
	}
}

func TestObservabilitySettings(t *testing.T) {
	for profile, want := range map[Profile]string{ProfileWeb: "1s", ProfileOLTP: "500ms", ProfileMixed: "2s", ProfileDW: "10s", ProfileDesktop: ""} {
		in := base()
		in.Profile = profile
		c := mustRecommend(t, in)
		if got := c.Get("log_min_duration_statement"); got != want {
			t.Errorf("%s: log_min_duration_statement %q, want %q", profile, got, want)
		}
		if c.Get("shared_preload_libraries") != "pg_stat_statements" || c.Get("track_io_timing") != "on" {
			t.Errorf("%s: the advisor's prerequisites are missing", profile)
		}
	}
}

func TestConnectionBudget(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		in := base()
		in.Pooler, in.AppInstances, in.AppPoolSize = false, 6, 20
		c := mustRecommend(t, in)
		b := c.Connections
		// 120 application + 9 direct (2 migrations, 3 maintenance, 3 monitoring, 1 backup) + 3 superuser.
		if b.Needed != 132 || b.MaxConnections != 135 || c.Get("max_connections") != "135" || b.Pooler != nil {
			t.Errorf("budget %+v, max_connections %s; want 132 needed, 135", b, c.Get("max_connections"))
		}
	})
	t.Run("pooler", func(t *testing.T) {
		in := base()
		in.CPUs, in.AppInstances, in.AppPoolSize = 8, 40, 25
		in.PoolerHosts, in.PoolerProcesses, in.Pools = 2, 2, 3
		c := mustRecommend(t, in)
		ps := c.Connections.Pooler
		if ps == nil {
			t.Fatal("no pooler sizing")
		}
		// Active target 2 × 8 = 16 over 2 hosts × 2 processes: pools of 4, reserve 1.
		if ps.ActiveTarget != 16 || ps.DefaultPoolSize != 4 || ps.ReservePoolSize != 1 {
			t.Errorf("pool sizing %+v", ps)
		}
		// 2 × 2 × 3 × (4 + 1) = 60 server connections; 1000 clients × 1.25 over 4 processes.
		if ps.ServerConnections != 60 || ps.MaxClientConn != 320 || ps.MaxDBConnections != 15 || ps.FileDescriptors != 320+15+64 {
			t.Errorf("pool sizing %+v", ps)
		}
		if c.Connections.Needed != 60+9+3 || c.Connections.MaxConnections != 75 {
			t.Errorf("budget %+v", c.Connections)
		}
	})
	t.Run("fixed max_connections too low", func(t *testing.T) {
		in := base()
		in.Pooler, in.AppInstances, in.AppPoolSize, in.MaxConnections = false, 10, 20, 100
		_, err := Recommend(in)
		var ve *ValidationError
		// Two explicit numbers that cannot both hold: the default direct allowance (an
		// assumption) is cut to 0, and the 203 left (200 + the superuser reserve) are refused.
		if !errors.As(err, &ve) || ve.Field != "max_connections" || !strings.Contains(err.Error(), "203") {
			t.Errorf("got %v, want a max_connections error naming the 203 the budget needs", err)
		}
	})
	// An explicit number wins over an assumption: the profile's customary application count,
	// PgBouncer's pool size and the default direct allowance shrink to fit it.
	for _, tc := range []struct {
		name   string
		pooler bool
		max    int
	}{{"assumed clients", false, 100}, {"assumed clients, tiny", false, 5}, {"pool size", true, 20}} {
		t.Run("max_connections given wins over "+tc.name, func(t *testing.T) {
			in := base()
			in.Pooler, in.AppInstances, in.AppPoolSize, in.MaxConnections = tc.pooler, 0, 0, tc.max
			c := mustRecommend(t, in)
			if c.Get("max_connections") != strconv.Itoa(tc.max) || c.Connections.Needed > tc.max {
				t.Errorf("max_connections %s, budget needs %d; want %d as given, and a budget within it", c.Get("max_connections"), c.Connections.Needed, tc.max)
			}
			if !strings.Contains(strings.Join(c.Notes, " "), "as given") && !strings.Contains(strings.Join(c.Notes, " "), "max_connections "+strconv.Itoa(tc.max)) {
				t.Errorf("no note says the budget was fitted to it: %q", c.Notes)
			}
		})
	}
	t.Run("direct connections override", func(t *testing.T) {
		in := base()
		in.DirectConnections = 20
		c := mustRecommend(t, in)
		if c.Connections.Needed != 10+20+3 {
			t.Errorf("budget %+v", c.Connections)
		}
	})
}

func TestMemoryFit(t *testing.T) {
	t.Run("assumed clients shrink", func(t *testing.T) {
		in := base()
		in.Pooler, in.Memory = false, 4*GB
		c := mustRecommend(t, in)
		if c.Connections.ClientConnections >= 200 || !notesContain(c, "lowered to") {
			t.Errorf("clients %d, notes %q: the assumed 200 should have been lowered with a note", c.Connections.ClientConnections, c.Notes)
		}
	})
	t.Run("given clients never shrink", func(t *testing.T) {
		in := base()
		in.Pooler, in.Memory, in.AppInstances, in.AppPoolSize = false, 4*GB, 10, 30
		c := mustRecommend(t, in)
		if c.Connections.ClientConnections != 300 {
			t.Errorf("clients %d, want the 300 given", c.Connections.ClientConnections)
		}
		if !notesContain(c, "PgBouncer") {
			t.Errorf("notes %q: want the advice to put PgBouncer in front", c.Notes)
		}
	})
	t.Run("impossible", func(t *testing.T) {
		in := base()
		in.Pooler, in.Memory, in.AppInstances, in.AppPoolSize = false, GB, 50, 40
		// 2,000 explicit connections on 1GB: the tightest config, rendered, and said loudly.
		c := mustRecommend(t, in)
		if c.Memory.OverBy <= 0 || c.Get("work_mem") != "64kB" || c.Get("max_connections") != "2010" ||
			!strings.HasPrefix(c.Notes[0], "THE WORST CASE DOES NOT FIT") || !strings.Contains(c.Notes[0], "--pooler") {
			t.Errorf("over %d, work_mem %s, max_connections %s, notes %q", c.Memory.OverBy, c.Get("work_mem"), c.Get("max_connections"), c.Notes)
		}
	})
	t.Run("lines add up", func(t *testing.T) {
		c := mustRecommend(t, base())
		var sum int64
		for _, l := range c.Memory.Lines {
			sum += l.Bytes
		}
		if sum != c.Memory.WorstCase || !c.Memory.Fits() {
			t.Errorf("lines sum to %d, worst case %d, fits %v", sum, c.Memory.WorstCase, c.Memory.Fits())
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		edit  func(*Instance)
		field string
	}{
		{func(in *Instance) { in.Memory = 256 * MB }, "memory"},
		{func(in *Instance) { in.CPUs = 0 }, "cpus"},
		{func(in *Instance) { in.Profile = "batch" }, "profile"},
		{func(in *Instance) { in.Version = 12 }, "version"},
		{func(in *Instance) { in.Version = 19 }, "version"},
		{func(in *Instance) { in.Storage = "tape" }, "storage"},
		{func(in *Instance) { in.OS = "plan9" }, "os"},
		{func(in *Instance) { in.AppInstances = 3 }, "app_instances"},
		{func(in *Instance) { in.HugePageSize = 4 * MB }, "huge_page_size"},
	}
	for _, tt := range tests {
		in := base()
		tt.edit(&in)
		var ve *ValidationError
		if err := in.Validate(); !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%+v: got %v, want an error on %s", in, err, tt.field)
		}
	}
}
