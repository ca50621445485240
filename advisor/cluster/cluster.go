// Package cluster finds what a primary and its read replicas need as a cluster: replicas that
// fall behind, replication slots that keep WAL for a replica that is gone, queries a replica
// cancels to keep replaying, and settings a replica must match. It reads the primary's view
// (pg_stat_replication, pg_replication_slots) and each replica's own (replay state,
// pg_stat_database_conflicts, settings); it never connects to anything.
package cluster

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/pgconf"
)

const (
	// LagSeconds and LagBytes: a standby this far behind is reported (the reads it serves are
	// that old); HighLagSeconds makes it high.
	LagSeconds     = 60
	HighLagSeconds = 300
	LagBytes       = 1 << 30
	// SlotHighBytes: an inactive slot keeping this much WAL is high.
	SlotHighBytes = 1 << 30
)

// mustMatch are the settings a hot standby needs at least as high as its primary's: below, it
// refuses to start, or (15+) pauses replay until they are raised (the WAL it replays assumes the
// primary's values).
var mustMatch = []string{"max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions", "max_locks_per_transaction"}

// Analyze returns the cluster's findings.
func Analyze(snap *dbstate.Snapshot) []finding.Finding {
	var out []finding.Finding
	out = append(out, lag(snap)...)
	out = append(out, slots(snap)...)
	for _, r := range snap.Replicas {
		if r.Error != "" {
			continue
		}
		out = append(out, conflicts(snap, r)...)
		out = append(out, settings(snap, r)...)
		out = append(out, delayed(snap, r)...)
	}
	return out
}

func lag(snap *dbstate.Snapshot) []finding.Finding {
	var out []finding.Finding
	seen := map[string]bool{}
	if rep := snap.Replication; rep != nil {
		for _, s := range rep.Standbys {
			behind := s.ReplayLagSeconds >= LagSeconds || s.ReplayLagBytes >= LagBytes
			paused := pausedReplica(snap, s)
			if !behind && paused == nil {
				continue
			}
			sev := finding.SeverityMedium
			if s.ReplayLagSeconds >= HighLagSeconds {
				sev = finding.SeverityHigh
			}
			name := standbyName(s)
			detail := fmt.Sprintf("The primary shows %s %s behind in replay (%s of WAL not replayed, state %s). "+
				"Every read it serves sees the data as of then; a read-your-writes read sent there misses the write.",
				name, lagText(s.ReplayLagSeconds), bytesOrUnknown(s.ReplayLagBytes), orDash(s.State))
			action := "look at the replica's load and I/O (a long query holding replay back: see its recovery conflicts), " +
				"and at the network between the two; route reads that must be fresh to the primary meanwhile"
			sql, title := "", fmt.Sprintf("replica %s is %s behind", name, lagText(s.ReplayLagSeconds))
			if paused != nil {
				seen[paused.Name] = true
				detail += fmt.Sprintf(" Its replay is paused (%s reports it): it will not catch up by itself.", paused.Name)
				sql = "-- on " + paused.Name + ":\nSELECT pg_wal_replay_resume();"
				title = fmt.Sprintf("replica %s has its replay paused, %s of WAL not replayed", paused.Name,
					bytesOrUnknown(max(s.ReplayLagBytes, paused.Recovery.ReceiveReplayBytes)))
				action = "resume replay on the replica unless it was paused on purpose (a recovery target, an investigation)"
				sev = max(sev, finding.SeverityHigh)
			}
			evidence := finding.Facts("standby", name, "replay_lag_seconds", finding.Round(s.ReplayLagSeconds, 1), "replay_lag_bytes", s.ReplayLagBytes,
				"sent_lag_bytes", s.SentLagBytes, "state", s.State, "sync_state", s.SyncState)
			if s.Slot != "" {
				evidence = append(evidence, finding.Fact{Name: "slot", Value: s.Slot})
			}
			if s.XminAge > 0 {
				evidence = append(evidence, finding.Fact{Name: "feedback_xmin_age", Value: s.XminAge})
			}
			out = append(out, finding.Finding{
				Rule: "replication.lag", Kind: finding.KindReplication, Severity: sev,
				Title: title, Detail: detail, Evidence: evidence, SQL: sql, Action: action,
			})
		}
	}
	// A replica read beside the primary whose replay is paused, not matched to a standby row
	// (the primary's view was restricted, or its application_name is not its address).
	for _, r := range snap.Replicas {
		if r.Error != "" || r.Recovery == nil || !r.Recovery.Paused || seen[r.Name] {
			continue
		}
		out = append(out, finding.Finding{
			Rule: "replication.lag", Kind: finding.KindReplication, Severity: finding.SeverityHigh,
			Title: fmt.Sprintf("replica %s has its replay paused", r.Name),
			Detail: fmt.Sprintf("Replay is paused on %s (%s of WAL received and not replayed): it falls further behind "+
				"with every write on the primary, and its reads see older and older data.", r.Name, bytesOrUnknown(r.Recovery.ReceiveReplayBytes)),
			Evidence: finding.Facts("replica", r.Name, "paused", true, "receive_replay_bytes", r.Recovery.ReceiveReplayBytes),
			SQL:      "-- on " + r.Name + ":\nSELECT pg_wal_replay_resume();",
			Action:   "resume replay unless it was paused on purpose",
		})
	}
	return out
}

// pausedReplica is the replica read beside the primary that this standby row is, when its
// replay is paused. A standby row names its replica by application_name and client address, a
// replica by the address pgtune reached it at: they match when one names the other's host.
func pausedReplica(snap *dbstate.Snapshot, s dbstate.Standby) *dbstate.Replica {
	var paused []*dbstate.Replica
	for i := range snap.Replicas {
		if r := &snap.Replicas[i]; r.Error == "" && r.Recovery != nil && r.Recovery.Paused {
			paused = append(paused, r)
		}
	}
	for _, r := range paused {
		host, _, _ := strings.Cut(r.Name, ":")
		if slot, ok := replicaSetting(snap, *r, "primary_slot_name"); ok && slot != "" && slot == s.Slot || host == s.Name || host == s.Addr {
			return r
		}
	}
	return nil
}

func slots(snap *dbstate.Snapshot) []finding.Finding {
	if snap.Replication == nil {
		return nil
	}
	var out []finding.Finding
	for _, s := range snap.Replication.Slots {
		if s.Active {
			continue
		}
		sev := finding.SeverityMedium
		title := fmt.Sprintf("replication slot %s is inactive and keeps %s of WAL", s.Name, bytesOrUnknown(s.RetainedBytes))
		detail := fmt.Sprintf("No replica streams through %s slot %s, yet the primary keeps every WAL segment from its "+
			"restart point on (%s so far), and more with every write, until the disk fills (max_slot_wal_keep_size "+
			"bounds it, at the slot's expense).", s.Type, s.Name, bytesOrUnknown(s.RetainedBytes))
		switch {
		case s.WALStatus == "lost":
			sev = finding.SeverityLow
			title = fmt.Sprintf("replication slot %s is inactive and has lost the WAL it needed", s.Name)
			detail = fmt.Sprintf("Slot %s's WAL was removed (max_slot_wal_keep_size): the replica it served cannot resume "+
				"from it and must be cloned again. The slot is useless now.", s.Name)
		case s.RetainedBytes >= SlotHighBytes || s.WALStatus == "extended" || s.WALStatus == "unreserved":
			sev = finding.SeverityHigh
		}
		if s.XminAge > 0 {
			detail += fmt.Sprintf(" It also holds the xmin horizon back by %d transactions: VACUUM cannot remove rows "+
				"deleted since.", s.XminAge)
			sev = max(sev, finding.SeverityMedium)
		}
		out = append(out, finding.Finding{
			Rule: "replication.slot_inactive", Kind: finding.KindReplication, Severity: sev,
			Title: title, Detail: detail,
			Evidence: finding.Facts("slot", s.Name, "type", s.Type, "retained_bytes", s.RetainedBytes, "wal_status", s.WALStatus, "xmin_age", s.XminAge),
			SQL:      "SELECT pg_drop_replication_slot(" + quote.Literal(s.Name) + ");",
			Action:   "drop it if its replica is gone for good; if the replica is coming back, dropping the slot means cloning it again",
		})
	}
	return out
}

// conflictAdvice is what trades each kind of recovery conflict away.
var conflictAdvice = map[string]string{
	"snapshot":           "replay removed row versions its queries still needed (VACUUM on the primary): hot_standby_feedback = on stops that at the cost of bloat on the primary; or raise max_standby_streaming_delay, at the cost of lag",
	"lock":               "replay needed an ACCESS EXCLUSIVE lock its queries were in the way of (DDL, or VACUUM truncating a table's end on the primary): ALTER TABLE … SET (vacuum_truncate = off) on the hot tables, or raise max_standby_streaming_delay",
	"bufferpin":          "replay needed a page a query held pinned: raise max_standby_streaming_delay",
	"tablespace":         "a tablespace its queries used for temporary files was dropped on the primary",
	"deadlock":           "a query and replay were deadlocked on a buffer pin",
	"active_logicalslot": "a logical slot on the replica lost rows it needed (hot_standby_feedback = on with a physical slot prevents it)",
}

func conflicts(snap *dbstate.Snapshot, r dbstate.Replica) []finding.Finding {
	if r.Recovery == nil || len(r.Recovery.Conflicts) == 0 {
		return nil
	}
	var total int64
	var kinds []string
	for k, n := range r.Recovery.Conflicts {
		total += n
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.Recovery.Conflicts[b], r.Recovery.Conflicts[a]), cmp.Compare(a, b))
	})
	var why []string
	evidence := finding.Facts("replica", r.Name)
	for _, k := range kinds {
		why = append(why, fmt.Sprintf("%s %d: %s", k, r.Recovery.Conflicts[k], conflictAdvice[k]))
		evidence = append(evidence, finding.Fact{Name: "confl_" + k, Value: r.Recovery.Conflicts[k]})
	}
	for _, name := range []string{"hot_standby_feedback", "max_standby_streaming_delay"} {
		if v, ok := replicaSetting(snap, r, name); ok {
			evidence = append(evidence, finding.Fact{Name: name, Value: v})
		}
	}
	sev := finding.SeverityMedium
	if total >= 100 {
		sev = finding.SeverityHigh
	}
	return []finding.Finding{{
		Rule: "replication.conflicts", Kind: finding.KindReplication, Severity: sev,
		Title: fmt.Sprintf("replica %s cancelled %d queries to keep replaying", r.Name, total),
		Detail: fmt.Sprintf("%s cancelled %d queries since its statistics were reset (pg_stat_database_conflicts): "+
			"the application saw them fail with \"canceling statement due to conflict with recovery\". %s.",
			r.Name, total, strings.Join(why, "; ")),
		Evidence: evidence,
		Action:   "choose per replica: fresh reads (keep the delay low, accept cancellations) or long reports (feedback or a longer delay)",
	}}
}

func settings(snap *dbstate.Snapshot, r dbstate.Replica) []finding.Finding {
	var out []finding.Finding
	for _, name := range mustMatch {
		pv, ok1 := snap.Setting(name)
		rv, ok2 := replicaSetting(snap, r, name)
		p, err1 := strconv.ParseInt(pv, 10, 64)
		v, err2 := strconv.ParseInt(rv, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || v >= p {
			continue
		}
		out = append(out, finding.Finding{
			Rule: "replication.settings", Kind: finding.KindReplication, Severity: finding.SeverityHigh,
			Title: fmt.Sprintf("replica %s has %s = %d, below the primary's %d", r.Name, name, v, p),
			Detail: fmt.Sprintf("A hot standby needs %s at least as high as its primary's: the WAL it replays assumes "+
				"the primary's value. Below it, the replica refuses to start after a restart, or pauses replay until "+
				"the setting is raised.", name),
			Evidence: finding.Facts("replica", r.Name, "setting", name, "replica_value", v, "primary_value", p),
			SQL:      fmt.Sprintf("-- on %s (then restart it):\nALTER SYSTEM SET %s = %d;", r.Name, name, p),
		})
	}
	return out
}

// delayed reports a replica that applies WAL late on purpose (recovery_min_apply_delay): a
// safety net against a mistaken DROP, but every read it serves sees data that old, and it is
// minutes behind by design, which lag alone would not say.
func delayed(snap *dbstate.Snapshot, r dbstate.Replica) []finding.Finding {
	v, ok := replicaSetting(snap, r, "recovery_min_apply_delay")
	ms, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil || ms <= 0 {
		return nil
	}
	var calls int64
	for _, st := range r.Statements.Rows {
		calls += st.Calls
	}
	sev := finding.SeverityInfo
	detail := fmt.Sprintf("%s applies WAL %s after the primary wrote it (recovery_min_apply_delay = %s ms): its data is that old by design, "+
		"a safety net against a mistaken DROP or DELETE. Its indexes too: one built on the primary reaches it that much later, "+
		"and until then no index is called unused (pgtune proposes no drop).", r.Name, lagText(ms/1000), v)
	if calls > 0 {
		sev = finding.SeverityMedium
		detail += fmt.Sprintf(" It serves reads (%d calls in its pg_stat_statements): they see data %s old.", calls, lagText(ms/1000))
	}
	return []finding.Finding{{
		Rule: "replication.delayed", Kind: finding.KindReplication, Severity: sev,
		Title:    fmt.Sprintf("replica %s applies WAL %s late on purpose", r.Name, lagText(ms/1000)),
		Detail:   detail,
		Evidence: finding.Facts("replica", r.Name, "recovery_min_apply_delay_ms", v, "calls", calls),
		Action:   "keep a delayed replica out of the read pool (serve reads from replicas without the delay), or accept reads that old",
	}}
}

// replicaSetting is a setting's value on a replica: its own where it differs, else the
// primary's (a physical replica starts from the primary's configuration).
func replicaSetting(snap *dbstate.Snapshot, r dbstate.Replica, name string) (string, bool) {
	for _, s := range r.Settings {
		if s.Name == name {
			return s.Setting, true
		}
	}
	return snap.Setting(name)
}

func standbyName(s dbstate.Standby) string {
	switch {
	case s.Name != "" && s.Addr != "":
		return s.Name + " (" + s.Addr + ")"
	case s.Name != "":
		return s.Name
	}
	return orDash(s.Addr)
}

func lagText(seconds float64) string {
	if seconds < 0 {
		return "an unknown time"
	}
	if seconds < 120 {
		return fmt.Sprintf("%.0f s", seconds)
	}
	return fmt.Sprintf("%.1f min", seconds/60)
}

func bytesOrUnknown(b int64) string {
	if b < 0 {
		return "an unknown amount"
	}
	return pgconf.HumanBytes(b)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
