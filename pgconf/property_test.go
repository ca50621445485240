package pgconf

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// The grid the property test sweeps: 512MB to 1TB (with Kubernetes-style odd sizes), 1 to 128
// CPUs, every profile, storage, OS and major, with and without a pooler and the app's figures.
var (
	gridMemory = []int64{512 * MB, 768 * MB, GB, 1536 * MB, 2 * GB, 3 * GB, 4 * GB, 5632 * MB, 8 * GB, 12 * GB,
		16 * GB, 24 * GB, 32 * GB, 48 * GB, 64 * GB, 96 * GB, 128 * GB, 256 * GB, 384 * GB, 512 * GB, 768 * GB, TB}
	gridCPUs = []int{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128}
)

type clients struct {
	pooler                               bool
	instances, pool, hosts, procs, pools int
}

var gridClients = []clients{
	{},                       // unknown: the profile's assumed count
	{instances: 4, pool: 10}, // a small app, direct
	{pooler: true},           // PgBouncer, assumed clients
	{pooler: true, instances: 20, pool: 50, hosts: 2, procs: 4, pools: 3},
}

// settingBytes reads a rendered memory setting.
func settingBytes(t *testing.T, c *Config, name string) int64 {
	t.Helper()
	v := c.Get(name)
	p, _ := Lookup(name)
	n, err := p.ParseValue(v, "")
	if err != nil {
		t.Fatalf("%s = %q: %v", name, v, err)
	}
	return int64(n)
}

func settingInt(t *testing.T, c *Config, name string) int {
	t.Helper()
	n, err := strconv.Atoi(c.Get(name))
	if err != nil {
		t.Fatalf("%s = %q: %v", name, c.Get(name), err)
	}
	return n
}

// TestPropertyGrid: over the whole grid, Recommend succeeds, every setting exists in the major
// and is within PostgreSQL's range, min ≤ max wherever two settings bound each other, and the
// worst-case memory — recomputed here from the rendered text, not from Recommend's own figures —
// fits the RAM less the headroom.
func TestPropertyGrid(t *testing.T) {
	n := 0
	for _, mem := range gridMemory {
		for _, cpus := range gridCPUs {
			for _, prof := range Profiles {
				for v := MinVersion; v <= MaxVersion; v++ {
					for _, st := range Storages {
						for _, os := range OSes {
							for _, cl := range gridClients {
								in := Instance{Memory: mem, CPUs: cpus, Storage: st, Profile: prof, Version: v, OS: os,
									Pooler: cl.pooler, AppInstances: cl.instances, AppPoolSize: cl.pool,
									PoolerHosts: cl.hosts, PoolerProcesses: cl.procs, Pools: cl.pools}
								checkInstance(t, in)
								n++
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d instances checked", n)
}

func checkInstance(t *testing.T, in Instance) {
	t.Helper()
	name := fmt.Sprintf("%s/%dcpu/%s/pg%d/%s/%s/pooler=%v/app=%dx%d", HumanBytes(in.Memory), in.CPUs, in.Profile, in.Version, in.Storage, in.OS, in.Pooler, in.AppInstances, in.AppPoolSize)
	c, err := Recommend(in)
	if err != nil {
		t.Fatalf("%s: %v", name, err) // every instance renders (the tightest config when it must)
	}
	// Only the application's own fixed connections on a small machine may fail to fit; then the
	// config is the tightest, said first in the notes.
	over := c.Memory.OverBy > 0
	if over && !(in.AppInstances*in.AppPoolSize > 0 && in.Memory <= 2*GB) {
		t.Fatalf("%s: over the memory by %s, where pgtune chose the connections", name, HumanBytes(c.Memory.OverBy))
	}
	if over && (len(c.Notes) == 0 || !strings.HasPrefix(c.Notes[0], "THE WORST CASE DOES NOT FIT")) {
		t.Fatalf("%s: over the memory, and the notes do not start by saying so: %q", name, c.Notes)
	}
	seen := map[string]bool{}
	for _, s := range c.Settings {
		if seen[s.Name] {
			t.Fatalf("%s: %s rendered twice", name, s.Name)
		}
		seen[s.Name] = true
		p, ok := Lookup(s.Name)
		if !ok {
			t.Fatalf("%s: %s is not a parameter pgtune knows", name, s.Name)
		}
		if err := p.Check(s.Value, in.Version); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Reason == "" {
			t.Fatalf("%s: %s has no reason", name, s.Name)
		}
		if s.Restart != p.NeedsRestart(in.Version) {
			t.Fatalf("%s: %s restart flag %v is wrong", name, s.Name, s.Restart)
		}
	}
	for _, must := range []string{"max_connections", "shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size", "min_wal_size", "max_worker_processes"} {
		if !seen[must] {
			t.Fatalf("%s: %s not rendered", name, must)
		}
	}

	sb := settingBytes(t, c, "shared_buffers")
	wm := settingBytes(t, c, "work_mem")
	mwm := settingBytes(t, c, "maintenance_work_mem")
	avwm := settingBytes(t, c, "autovacuum_work_mem")
	walBuf := settingBytes(t, c, "wal_buffers")
	conns := settingInt(t, c, "max_connections")
	pw := settingInt(t, c, "max_parallel_workers")
	avw := settingInt(t, c, "autovacuum_max_workers")
	hmm, _ := strconv.ParseFloat(c.Get("hash_mem_multiplier"), 64)

	if minW, maxW := settingBytes(t, c, "min_wal_size"), settingBytes(t, c, "max_wal_size"); minW > maxW {
		t.Fatalf("%s: min_wal_size %d > max_wal_size %d", name, minW, maxW)
	}
	if ecs := settingBytes(t, c, "effective_cache_size"); ecs < sb {
		t.Fatalf("%s: effective_cache_size < shared_buffers", name)
	}
	if mwp := settingInt(t, c, "max_worker_processes"); mwp < pw || pw < settingInt(t, c, "max_parallel_workers_per_gather") {
		t.Fatalf("%s: max_worker_processes %d ≥ max_parallel_workers %d ≥ per gather does not hold", name, mwp, pw)
	}
	if avwm > mwm {
		t.Fatalf("%s: autovacuum_work_mem > maintenance_work_mem", name)
	}
	if wm < MB && !over && !(in.AppInstances*in.AppPoolSize > 0 && in.Memory <= 2*GB) {
		t.Fatalf("%s: work_mem %s below 1MB", name, FormatBytes(wm))
	}
	if in.OS == OSWindows && in.Version <= 17 && (wm >= 2*GB || mwm >= 2*GB) {
		t.Fatalf("%s: a memory setting reaches 2GB on Windows", name)
	}
	if conns < c.Connections.Needed {
		t.Fatalf("%s: max_connections %d below the budget's %d", name, conns, c.Connections.Needed)
	}
	if in.Version >= 18 && avw > 16 && settingInt(t, c, "autovacuum_worker_slots") < avw {
		t.Fatalf("%s: autovacuum_worker_slots below autovacuum_max_workers", name)
	}

	// The worst case, recomputed from the rendered values.
	sorts, hashes := 1, 1
	if in.Profile == ProfileDW || in.Profile == ProfileMixed {
		sorts, hashes = 2, 2
	}
	backends := int64(conns + pw)
	worst := sb + walBuf + backends*(backendOverhead+wm*int64(sorts)+int64(float64(wm)*hmm)*int64(hashes)) +
		int64(avw)*(avwm+backendOverhead) + maintenanceSessions*mwm
	avail := in.Memory - max(in.Memory/10, 128*MB)
	if in.Profile == ProfileDesktop {
		avail = in.Memory / 2
	}
	if worst > avail && !over {
		t.Fatalf("%s: worst case %s exceeds the %s available", name, HumanBytes(worst), HumanBytes(avail))
	}
	if over && c.Memory.OverBy != worst-avail {
		t.Fatalf("%s: over by %s, the settings say %s", name, HumanBytes(c.Memory.OverBy), HumanBytes(worst-avail))
	}
	if worst != c.Memory.WorstCase || c.Memory.Fits() == over {
		t.Fatalf("%s: the budget table says %s, the settings add up to %s", name, HumanBytes(c.Memory.WorstCase), HumanBytes(worst))
	}
}
