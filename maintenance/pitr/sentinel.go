package pitr

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// The sentinel is a heartbeat table: `pgtune backup sentinel` adds a row (a counter and the
// time) from cron, so every drill has a known target — the row written just before it must be
// in the restored database and the row just after it must not. pgBackRest's own integration
// tests assert restores the same way.
const (
	SentinelSchema = "pgtune_sentinel"
	sentinelDDL    = `/* pgtune */ CREATE SCHEMA IF NOT EXISTS pgtune_sentinel;
CREATE TABLE IF NOT EXISTS pgtune_sentinel.heartbeat (
    counter bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    note    text
)`
	sentinelInsert = `/* pgtune */ INSERT INTO pgtune_sentinel.heartbeat (note) VALUES ($1) RETURNING counter, at`
)

// Heartbeat is one sentinel row.
type Heartbeat struct {
	Counter int64     `json:"counter"`
	At      time.Time `json:"at"`
	Note    string    `json:"note,omitempty"`
}

// WriteSentinel adds a heartbeat row (creating the table on first use) and, with switchWAL,
// closes the current WAL segment so the archive holds the row at once.
func WriteSentinel(ctx context.Context, conn *pgx.Conn, note string, switchWAL bool) (Heartbeat, error) {
	if _, err := conn.Exec(ctx, sentinelDDL); err != nil {
		return Heartbeat{}, err
	}
	h := Heartbeat{Note: note}
	if err := conn.QueryRow(ctx, sentinelInsert, note).Scan(&h.Counter, &h.At); err != nil {
		return h, err
	}
	h.At = h.At.UTC()
	if switchWAL {
		if _, err := conn.Exec(ctx, "/* pgtune */ SELECT pg_catalog.pg_switch_wal()"); err != nil {
			return h, err
		}
	}
	return h, nil
}

// sentinelAround reads the newest row at or before t and the oldest after it (nil when none).
func sentinelAround(ctx context.Context, conn *pgx.Conn, t time.Time) (before, after *Heartbeat, ok bool, err error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT pg_catalog.to_regclass('pgtune_sentinel.heartbeat') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return nil, nil, false, err
	}
	read := func(q string) (*Heartbeat, error) {
		var h Heartbeat
		err := conn.QueryRow(ctx, q, t).Scan(&h.Counter, &h.At)
		if err == pgx.ErrNoRows {
			return nil, nil
		}
		h.At = h.At.UTC()
		return &h, err
	}
	if before, err = read(`SELECT counter, at FROM pgtune_sentinel.heartbeat WHERE at <= $1 ORDER BY at DESC LIMIT 1`); err != nil {
		return nil, nil, true, err
	}
	after, err = read(`SELECT counter, at FROM pgtune_sentinel.heartbeat WHERE at > $1 ORDER BY at LIMIT 1`)
	return before, after, true, err
}
