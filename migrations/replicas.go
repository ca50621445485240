package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/pgconf"
)

// An index built on the primary reaches a streaming replica only when the replica replays it:
// until then the reads the replicas serve go without it, and a later migration that drops the
// index it replaces would leave them with neither. So a run looks at the replicas the primary
// streams to (pg_stat_replication) after each migration: it reports how far each has replayed,
// and with Options.WaitReplicas waits for every one to replay the migration before it applies
// the next. A replica too far behind to catch up within that wait is named before anything is
// applied.

// Replay is a replica's replay of a run's migrations, as the primary sees it.
type Replay struct {
	// Replica is the standby's name: its replication slot, else its application_name and address.
	Replica string `json:"replica"`
	// Migration is the last migration it was checked against.
	Migration string `json:"migration"`
	// Replayed: the replica has replayed that migration's commit.
	Replayed bool `json:"replayed"`
	// BehindBytes is how much WAL the replica had still to replay when last looked at.
	BehindBytes int64 `json:"behind_bytes"`
	// ReplayLagSeconds is pg_stat_replication.replay_lag (null once a replica has caught up).
	ReplayLagSeconds *float64 `json:"replay_lag_seconds,omitempty"`
	// WaitedSeconds is how long the run waited for it (with WaitReplicas).
	WaitedSeconds float64 `json:"waited_seconds"`
}

// ErrReplicaLag means a replica did not replay in time (Options.WaitReplicas).
var ErrReplicaLag = errors.New("a replica did not replay in time")

// ErrReplicasHidden means the role cannot see the replicas' replay positions.
var ErrReplicasHidden = errors.New("replay positions hidden")

// The standbys the primary streams to, and how far each has replayed target (an LSN). Without
// pg_read_all_stats, pg_stat_replication shows a standby's pid and nothing else (state null).
const replicasSQL = connect.Marker + `SELECT coalesce(s.slot_name, r.application_name || coalesce('@' || host(r.client_addr), ''), r.pid::text),
       r.state IS NOT NULL,
       coalesce(r.replay_lsn >= $1::pg_lsn, false),
       coalesce(pg_wal_lsn_diff($1::pg_lsn, r.replay_lsn), 0)::bigint,
       extract(epoch FROM r.replay_lag)::float8
FROM pg_stat_replication r
LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
WHERE r.state IS NULL OR r.state <> 'backup'
ORDER BY 1`

// Physical slots no replica streams from: a replica down or cut off, which replays (and gets
// the indexes) only when it reconnects; nobody can wait for it.
const idleSlotsSQL = connect.Marker + `SELECT slot_name FROM pg_replication_slots
WHERE slot_type = 'physical' AND NOT active ORDER BY 1`

type standby struct {
	name     string
	visible  bool
	replayed bool
	behind   int64
	lag      *float64
}

func (r *runner) standbys(ctx context.Context, lsn string) ([]standby, error) {
	rows, err := r.ctrl.Query(ctx, replicasSQL, lsn)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_replication: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (standby, error) {
		var s standby
		err := row.Scan(&s.name, &s.visible, &s.replayed, &s.behind, &s.lag)
		return s, err
	})
}

func (r *runner) idleSlots(ctx context.Context, res *Result) error {
	rows, err := r.ctrl.Query(ctx, idleSlotsSQL)
	if err != nil {
		return fmt.Errorf("read pg_replication_slots: %w", err)
	}
	res.IdleSlots, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return err
}

// currentLSN is where the primary's WAL ends now: a migration committed before is at or before
// it. The insert position, not the write position: with synchronous_commit off a commit's record
// is written (and streamed) up to wal_writer_delay later, and pg_current_wal_lsn() lags it.
func (r *runner) currentLSN(ctx context.Context) (string, error) {
	var lsn string
	err := r.ctrl.QueryRow(ctx, connect.Marker+"SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn)
	if err != nil {
		return "", fmt.Errorf("read the primary's WAL position: %w", err)
	}
	return lsn, nil
}

// replicasReplay looks at the replicas after label (a migration, or "" before the first): once,
// or with WaitReplicas until each has replayed everything written so far. It returns what it saw;
// the error says which replica did not replay in time, or that the role cannot see.
func (r *runner) replicasReplay(ctx context.Context, label string, res *Result) error {
	lsn, err := r.currentLSN(ctx)
	if err != nil {
		return err
	}
	began := time.Now()
	deadline := began.Add(r.o.WaitReplicas)
	for {
		list, err := r.standbys(ctx, lsn)
		if err != nil {
			return err
		}
		var hidden int
		var behind []standby
		for _, s := range list {
			switch {
			case !s.visible:
				hidden++
			case !s.replayed:
				behind = append(behind, s)
			}
		}
		if hidden > 0 && r.o.WaitReplicas > 0 {
			return fmt.Errorf("%w: the primary streams to %d replicas, but this role cannot see how far they have replayed (pg_stat_replication shows it only to pg_read_all_stats): GRANT pg_read_all_stats TO %s, or run without --wait-replicas", ErrReplicasHidden, hidden, r.cfg.User)
		}
		done := len(behind) == 0 || r.o.WaitReplicas <= 0 || !time.Now().Before(deadline)
		if done {
			if label != "" {
				res.setReplays(list, label, time.Since(began), r.o.WaitReplicas > 0)
			}
			res.HiddenReplicas = hidden
			if err := r.idleSlots(ctx, res); err != nil {
				return err
			}
			if len(behind) > 0 && r.o.WaitReplicas > 0 {
				return &lagError{behind: behind, wait: r.o.WaitReplicas, label: label}
			}
			return nil
		}
		r.log.Info("waiting for the replicas to replay", "after", firstOf(label, "the primary's current position"), "behind", standbyNames(behind), "until", deadline.Format(time.TimeOnly))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.o.Poll):
		}
	}
}

func (res *Result) setReplays(list []standby, label string, waited time.Duration, waiting bool) {
	res.Replicas = res.Replicas[:0]
	for _, s := range list {
		if !s.visible {
			continue
		}
		rp := Replay{Replica: s.name, Migration: label, Replayed: s.replayed, BehindBytes: s.behind, ReplayLagSeconds: s.lag}
		if waiting {
			rp.WaitedSeconds = waited.Seconds()
		}
		res.Replicas = append(res.Replicas, rp)
	}
}

func standbyNames(list []standby) string {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = fmt.Sprintf("%s (%s behind)", s.name, pgconf.HumanBytes(s.behind))
	}
	return strings.Join(names, ", ")
}

// lagError names the replicas that did not replay in time.
type lagError struct {
	behind []standby
	wait   time.Duration
	label  string
}

func (e *lagError) Error() string {
	if e.label == "" {
		return fmt.Sprintf("%s: replica %s did not catch up with the primary within --wait-replicas %v, so nothing was applied: a replica that far behind would serve reads without the new indexes for longer than you allowed. Resume its replay if it is paused (SELECT pg_wal_replay_resume() on the replica), or raise --wait-replicas",
			ErrReplicaLag, standbyNames(e.behind), e.wait)
	}
	return fmt.Sprintf("%s: %s is applied on the primary, but replica %s did not replay it within --wait-replicas %v; the later migrations are still pending: run 'pgtune migrate up' again when the replica has caught up (resume its replay if it is paused: SELECT pg_wal_replay_resume()), or raise --wait-replicas",
		ErrReplicaLag, e.label, standbyNames(e.behind), e.wait)
}

func (e *lagError) Unwrap() error { return ErrReplicaLag }
