package cluster

import (
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
)

func TestAnalyze(t *testing.T) {
	quiet := dbstate.Standby{Name: "walreceiver", Addr: "10.0.0.2", State: "streaming", Slot: "replica1", ReplayLagSeconds: 0.4, ReplayLagBytes: 1200}
	base := func() *dbstate.Snapshot {
		return &dbstate.Snapshot{
			Settings:    []dbstate.Setting{{Name: "max_connections", Setting: "200"}, {Name: "max_wal_senders", Setting: "10"}},
			Replication: &dbstate.Replication{Standbys: []dbstate.Standby{quiet}, Slots: []dbstate.Slot{{Name: "replica1", Type: "physical", Active: true, RetainedBytes: 1200}}},
			Replicas:    []dbstate.Replica{{Name: "replica1:5432", Recovery: &dbstate.Recovery{}, Settings: []dbstate.Setting{{Name: "primary_slot_name", Setting: "replica1"}}}},
		}
	}
	cases := []struct {
		name  string
		plant func(s *dbstate.Snapshot)
		want  []string // rule: title substring
	}{
		{"a healthy cluster", func(*dbstate.Snapshot) {}, nil},
		{"a standby two minutes behind", func(s *dbstate.Snapshot) { s.Replication.Standbys[0].ReplayLagSeconds = 125 }, []string{"replication.lag: is 2.1 min behind"}},
		{"a standby 2 GB behind", func(s *dbstate.Snapshot) { s.Replication.Standbys[0].ReplayLagBytes = 2 << 30 }, []string{"replication.lag: is 0 s behind"}},
		{"replay paused on the replica read (matched by its slot)", func(s *dbstate.Snapshot) { s.Replicas[0].Recovery.Paused = true },
			[]string{"replication.lag: has its replay paused"}},
		{"replay paused on a replica the primary cannot see", func(s *dbstate.Snapshot) {
			s.Replicas[0].Recovery.Paused = true
			s.Replication = nil
		}, []string{"replication.lag: replica replica1:5432 has its replay paused"}},
		{"an inactive slot", func(s *dbstate.Snapshot) {
			s.Replication.Slots = append(s.Replication.Slots, dbstate.Slot{Name: "old", Type: "physical", RetainedBytes: 3 << 30, WALStatus: "extended"})
		}, []string{"replication.slot_inactive: old is inactive and keeps 3 GB"}},
		{"a lost slot", func(s *dbstate.Snapshot) {
			s.Replication.Slots = append(s.Replication.Slots, dbstate.Slot{Name: "gone", Type: "physical", RetainedBytes: -1, WALStatus: "lost"})
		}, []string{"replication.slot_inactive: gone is inactive and has lost"}},
		{"recovery conflicts", func(s *dbstate.Snapshot) {
			s.Replicas[0].Recovery.Conflicts = map[string]int64{"snapshot": 3, "lock": 1}
		},
			[]string{"replication.conflicts: cancelled 4 queries"}},
		// A delayed replica: minutes behind by design, said as such.
		{"a delayed replica", func(s *dbstate.Snapshot) {
			s.Replicas[0].Settings = append(s.Replicas[0].Settings, dbstate.Setting{Name: "recovery_min_apply_delay", Setting: "300000", Unit: "ms"})
		}, []string{"replication.delayed: applies WAL 5.0 min late on purpose"}},
		{"no delay", func(s *dbstate.Snapshot) {
			s.Replicas[0].Settings = append(s.Replicas[0].Settings, dbstate.Setting{Name: "recovery_min_apply_delay", Setting: "0", Unit: "ms"})
		}, nil},
		{"a replica with fewer connections than its primary", func(s *dbstate.Snapshot) {
			s.Replicas[0].Settings = append(s.Replicas[0].Settings, dbstate.Setting{Name: "max_connections", Setting: "100"})
		}, []string{"replication.settings: max_connections = 100, below the primary's 200"}},
		{"a replica with more", func(s *dbstate.Snapshot) {
			s.Replicas[0].Settings = append(s.Replicas[0].Settings, dbstate.Setting{Name: "max_connections", Setting: "300"})
		}, nil},
		{"an unread replica says nothing", func(s *dbstate.Snapshot) {
			s.Replicas[0] = dbstate.Replica{Name: "replica1:5432", Error: "connection refused"}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap := base()
			c.plant(snap)
			got := Analyze(snap)
			if len(got) != len(c.want) {
				t.Fatalf("%d findings, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				rule, title, _ := strings.Cut(w, ": ")
				if got[i].Rule != rule || !strings.Contains(got[i].Title, title) || got[i].Kind != finding.KindReplication {
					t.Errorf("finding %d: %s %q, want %s containing %q", i, got[i].Rule, got[i].Title, rule, title)
				}
				if got[i].SQL == "" && got[i].Action == "" {
					t.Errorf("finding %d says neither SQL nor action", i)
				}
			}
		})
	}
}
