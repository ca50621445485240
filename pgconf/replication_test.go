package pgconf

import (
	"strings"
	"testing"
)

// The replicas' settings by profile: feedback on where replica reads are short, off where long
// reports would hold the primary's vacuum back; replay's patience grows with the reads' length.
func TestReplicationSettingsByProfile(t *testing.T) {
	for _, tc := range []struct {
		profile         Profile
		feedback, delay string
	}{
		{ProfileWeb, "on", "30s"},
		{ProfileOLTP, "on", "30s"},
		{ProfileMixed, "on", "2min"},
		{ProfileDW, "off", "15min"},
	} {
		t.Run(string(tc.profile), func(t *testing.T) {
			c, err := Recommend(Instance{Memory: 16 * GB, CPUs: 8, Storage: StorageSSD, Profile: tc.profile, Version: 17, OS: OSLinux, Replicas: 2})
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]string{
				"hot_standby_feedback": tc.feedback, "max_standby_streaming_delay": tc.delay, "max_standby_archive_delay": tc.delay,
				"hot_standby": "on", "wal_level": "replica", "max_wal_senders": "10", "max_replication_slots": "10", "wal_log_hints": "on",
			} {
				if got := c.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			// Four times max_wal_size: a replica down that long loses its slot.
			if got, want := c.Get("max_slot_wal_keep_size"), map[Profile]string{ProfileWeb: "16GB", ProfileOLTP: "64GB", ProfileMixed: "32GB", ProfileDW: "64GB"}[tc.profile]; got != want {
				t.Errorf("max_slot_wal_keep_size = %s, want %s", got, want)
			}
		})
	}
	// Without replicas nothing of it is rendered; with many, the senders grow with them.
	c, _ := Recommend(Instance{Memory: 16 * GB, CPUs: 8, Storage: StorageSSD, Profile: ProfileWeb, Version: 17, OS: OSLinux})
	if c.Get("hot_standby_feedback") != "" || c.Connections.Replica != nil {
		t.Error("replication settings rendered for an instance without replicas")
	}
	c, _ = Recommend(Instance{Memory: 16 * GB, CPUs: 8, Storage: StorageSSD, Profile: ProfileWeb, Version: 17, OS: OSLinux, Replicas: 12})
	if c.Get("max_wal_senders") != "15" {
		t.Errorf("12 replicas: max_wal_senders = %s, want 15", c.Get("max_wal_senders"))
	}
}

// The budget per node: each replica carries its share of the reads with one replica out, plus
// monitoring, a standby backup and the reserve; max_connections covers the larger node.
func TestReplicaConnectionBudget(t *testing.T) {
	base := Instance{Memory: 32 * GB, CPUs: 8, Storage: StorageSSD, Profile: ProfileWeb, Version: 17, OS: OSLinux, AppInstances: 10, AppPoolSize: 20}
	for _, tc := range []struct {
		name                             string
		replicas, readPool               int
		pooler                           bool
		primary, replica, maxConnections int
		readRow                          int
	}{
		// 200 writes + 9 direct + 3 reserve on the primary; 200 reads on the one replica + 4 + 3.
		{"one replica", 1, 0, false, 212, 207, 215, 200},
		// Two replicas, one out: the other takes all 200 reads.
		{"two replicas", 2, 0, false, 212, 207, 215, 200},
		// Three: two carry the reads, 100 each.
		{"three replicas", 3, 0, false, 212, 107, 215, 100},
		// A read pool twice the write pool: the replicas set max_connections.
		{"reads heavier", 2, 40, false, 212, 407, 410, 400},
		// Behind PgBouncer: the read pool spans both replicas' cores (2 × 8 × 2 = 32 + 8 reserve),
		// and with one out the other holds it all.
		{"pooler", 2, 0, true, 32, 47, 50, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			in.Replicas, in.AppReadPoolSize, in.Pooler = tc.replicas, tc.readPool, tc.pooler
			c, err := Recommend(in)
			if err != nil {
				t.Fatal(err)
			}
			b := c.Connections
			if b.Replica == nil {
				t.Fatal("no replica budget")
			}
			if b.Needed != tc.primary || b.Replica.Needed != tc.replica || b.MaxConnections != tc.maxConnections || b.Replica.Rows[0].Connections != tc.readRow {
				t.Errorf("primary %d, replica %d (reads %d), max_connections %d; want %d, %d (%d), %d\n%+v",
					b.Needed, b.Replica.Needed, b.Replica.Rows[0].Connections, b.MaxConnections, tc.primary, tc.replica, tc.readRow, tc.maxConnections, b.Replica.Rows)
			}
			if c.Get("max_connections") == "" || !strings.Contains(strings.Join(c.Notes, " "), "One configuration for the primary") {
				t.Errorf("notes: %q", c.Notes)
			}
		})
	}
	// A max_connections given that a replica's reads cannot fit is refused, naming the replica.
	in := base
	in.Replicas, in.AppReadPoolSize, in.MaxConnections = 2, 40, 300
	if _, err := Recommend(in); err == nil || !strings.Contains(err.Error(), "a replica's budget") {
		t.Errorf("max_connections below a replica's budget: %v", err)
	}
	// A read pool without replicas, or without the application's instances, is refused.
	for _, bad := range []Instance{{AppInstances: 10, AppPoolSize: 20, AppReadPoolSize: 5}, {Replicas: 2, AppReadPoolSize: 5}} {
		in := base
		in.AppInstances, in.AppPoolSize, in.AppReadPoolSize, in.Replicas = bad.AppInstances, bad.AppPoolSize, bad.AppReadPoolSize, bad.Replicas
		if err := in.Validate(); err == nil {
			t.Errorf("%+v validates", bad)
		}
	}
}

// Over a grid of instances with replicas, every rendering is valid and max_connections holds a
// replica's budget.
func TestPropertyGridReplicas(t *testing.T) {
	n := 0
	for _, mem := range gridMemory {
		for _, cpus := range gridCPUs {
			for _, prof := range Profiles {
				for _, v := range []int{MinVersion, 16, MaxVersion} {
					for _, replicas := range []int{1, 2, 5} {
						for _, cl := range gridClients {
							in := Instance{Memory: mem, CPUs: cpus, Storage: StorageSSD, Profile: prof, Version: v, OS: OSLinux,
								Pooler: cl.pooler, AppInstances: cl.instances, AppPoolSize: cl.pool,
								PoolerHosts: cl.hosts, PoolerProcesses: cl.procs, Pools: cl.pools, Replicas: replicas}
							checkInstance(t, in)
							c, _ := Recommend(in)
							if got := settingInt(t, c, "max_connections"); got < c.Connections.Replica.Needed || got < c.Connections.Needed {
								t.Fatalf("%+v: max_connections %d below a node's budget (primary %d, replica %d)", in, got, c.Connections.Needed, c.Connections.Replica.Needed)
							}
							if settingInt(t, c, "max_wal_senders") < replicas+1 {
								t.Fatalf("%+v: max_wal_senders %s for %d replicas", in, c.Get("max_wal_senders"), replicas)
							}
							n++
						}
					}
				}
			}
		}
	}
	t.Logf("%d instances with replicas checked", n)
}
