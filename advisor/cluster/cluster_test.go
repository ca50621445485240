package cluster

import (
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/advisor/model"
)

func TestAnalyze(t *testing.T) {
	quiet := model.Standby{Name: "walreceiver", Addr: "10.0.0.2", State: "streaming", Slot: "replica1", ReplayLagSeconds: 0.4, ReplayLagBytes: 1200}
	base := func() *model.Snapshot {
		return &model.Snapshot{
			Settings:    []model.Setting{{Name: "max_connections", Setting: "200"}, {Name: "max_wal_senders", Setting: "10"}},
			Replication: &model.Replication{Standbys: []model.Standby{quiet}, Slots: []model.Slot{{Name: "replica1", Type: "physical", Active: true, RetainedBytes: 1200}}},
			Replicas:    []model.Replica{{Name: "replica1:5432", Recovery: &model.Recovery{}, Settings: []model.Setting{{Name: "primary_slot_name", Setting: "replica1"}}}},
		}
	}
	cases := []struct {
		name  string
		plant func(s *model.Snapshot)
		want  []string // rule: title substring
	}{
		{"a healthy cluster", func(*model.Snapshot) {}, nil},
		{"a standby two minutes behind", func(s *model.Snapshot) { s.Replication.Standbys[0].ReplayLagSeconds = 125 }, []string{"replication.lag: is 2.1 min behind"}},
		{"a standby 2 GB behind", func(s *model.Snapshot) { s.Replication.Standbys[0].ReplayLagBytes = 2 << 30 }, []string{"replication.lag: is 0 s behind"}},
		{"replay paused on the replica read (matched by its slot)", func(s *model.Snapshot) { s.Replicas[0].Recovery.Paused = true },
			[]string{"replication.lag: has its replay paused"}},
		{"replay paused on a replica the primary cannot see", func(s *model.Snapshot) {
			s.Replicas[0].Recovery.Paused = true
			s.Replication = nil
		}, []string{"replication.lag: replica replica1:5432 has its replay paused"}},
		{"an inactive slot", func(s *model.Snapshot) {
			s.Replication.Slots = append(s.Replication.Slots, model.Slot{Name: "old", Type: "physical", RetainedBytes: 3 << 30, WALStatus: "extended"})
		}, []string{"replication.slot_inactive: old is inactive and keeps 3 GB"}},
		{"a lost slot", func(s *model.Snapshot) {
			s.Replication.Slots = append(s.Replication.Slots, model.Slot{Name: "gone", Type: "physical", RetainedBytes: -1, WALStatus: "lost"})
		}, []string{"replication.slot_inactive: gone is inactive and has lost"}},
		{"recovery conflicts", func(s *model.Snapshot) { s.Replicas[0].Recovery.Conflicts = map[string]int64{"snapshot": 3, "lock": 1} },
			[]string{"replication.conflicts: cancelled 4 queries"}},
		// A delayed replica: minutes behind by design, said as such.
		{"a delayed replica", func(s *model.Snapshot) {
			s.Replicas[0].Settings = append(s.Replicas[0].Settings, model.Setting{Name: "recovery_min_apply_delay", Setting: "300000", Unit: "ms"})
		}, []string{"replication.delayed: applies WAL 5.0 min late on purpose"}},
		{"no delay", func(s *model.Snapshot) {
			s.Replicas[0].Settings = append(s.Replicas[0].Settings, model.Setting{Name: "recovery_min_apply_delay", Setting: "0", Unit: "ms"})
		}, nil},
		{"a replica with fewer connections than its primary", func(s *model.Snapshot) {
			s.Replicas[0].Settings = append(s.Replicas[0].Settings, model.Setting{Name: "max_connections", Setting: "100"})
		}, []string{"replication.settings: max_connections = 100, below the primary's 200"}},
		{"a replica with more", func(s *model.Snapshot) {
			s.Replicas[0].Settings = append(s.Replicas[0].Settings, model.Setting{Name: "max_connections", Setting: "300"})
		}, nil},
		{"an unread replica says nothing", func(s *model.Snapshot) {
			s.Replicas[0] = model.Replica{Name: "replica1:5432", Error: "connection refused"}
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
				if got[i].Rule != rule || !strings.Contains(got[i].Title, title) || got[i].Kind != model.KindReplication {
					t.Errorf("finding %d: %s %q, want %s containing %q", i, got[i].Rule, got[i].Title, rule, title)
				}
				if got[i].SQL == "" && got[i].Action == "" {
					t.Errorf("finding %d says neither SQL nor action", i)
				}
			}
		})
	}
}
