package migrations

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/query"
)

// BuildApplication is the application_name of the session that runs pgtune's own migrations, so a
// later run can tell a build a killed run left behind (its backend keeps building after the
// client is gone) from anyone else's.
const BuildApplication = connect.ApplicationName + " migrate"

// Blocker is a session a build waits for.
type Blocker struct {
	PID         int           `json:"pid"`
	Application string        `json:"application_name"`
	User        string        `json:"user"`
	State       string        `json:"state"`
	XactAge     time.Duration `json:"xact_age_ns"`
	// Query is the session's statement, its secrets redacted (query.Redact): another
	// session's text can hold one (ALTER ROLE ... PASSWORD '...').
	Query string `json:"query"`
}

func (b Blocker) String() string {
	s := fmt.Sprintf("pid %d", b.PID)
	var parts []string
	if b.Application != "" {
		parts = append(parts, "application "+strconv.Quote(b.Application))
	}
	if b.User != "" {
		parts = append(parts, "user "+b.User)
	}
	if b.XactAge > 0 {
		parts = append(parts, "in a transaction for "+b.XactAge.Round(time.Second).String())
	}
	if b.State != "" {
		parts = append(parts, b.State)
	}
	if b.Query != "" {
		parts = append(parts, strconv.Quote(quote.Excerpt(b.Query, 60)))
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// WaitError is a build pgtune stopped because it waited longer than it may: for the table's lock
// (--lock-timeout), or for older transactions to end (--max-wait).
type WaitError struct {
	// Snapshots: the wait was for older transactions (CREATE INDEX CONCURRENTLY waits for every
	// transaction that could still see the table without the index), not for a lock.
	Snapshots bool
	Waited    time.Duration
	Blockers  []Blocker
}

func (e *WaitError) Error() string {
	who := "another session"
	if len(e.Blockers) > 0 {
		var bs []string
		for _, b := range e.Blockers {
			bs = append(bs, b.String())
		}
		who = strings.Join(bs, "; ")
	}
	if e.Snapshots {
		return fmt.Sprintf("the build waited %v (--max-wait) for older transactions to end: %s", e.Waited.Round(time.Second), who)
	}
	return fmt.Sprintf("waited %v (--lock-timeout) for the table's lock, held by %s", e.Waited.Round(time.Second), who)
}

// OrphanError is a build a killed run left running: its backend goes on until the build ends.
type OrphanError struct {
	PID   int
	Since time.Time
	Index string
	Phase string
}

func (e *OrphanError) Error() string {
	what := "an index build"
	if e.Index != "" {
		what = "the build of " + e.Index
	}
	phase := ""
	if e.Phase != "" {
		phase = " (" + e.Phase + ")"
	}
	return fmt.Sprintf("a previous run's %s is still running as pid %d since %s%s; wait for it to end (or pass --wait), or stop it with SELECT pg_cancel_backend(%d); then run 'pgtune migrate up' again",
		what, e.PID, e.Since.UTC().Format("2006-01-02 15:04:05 UTC"), phase, e.PID)
}

const orphanQuery = connect.Marker + `SELECT a.pid, coalesce(a.query_start, a.backend_start), coalesce(p.phase, ''),
       CASE WHEN coalesce(p.index_relid, 0) <> 0 THEN p.index_relid::pg_catalog.regclass::text ELSE '' END, a.query
FROM pg_catalog.pg_stat_activity a
LEFT JOIN pg_catalog.pg_stat_progress_create_index p ON p.pid = a.pid
WHERE a.datname = pg_catalog.current_database() AND a.application_name = $1
  AND a.pid <> pg_catalog.pg_backend_pid() AND a.state <> 'idle'
ORDER BY a.pid LIMIT 1`

// orphan finds a build a killed run left behind. It is called holding pgtune's lock, so no live
// runner can own a "pgtune migrate" session that is still working.
func (r *runner) orphan(ctx context.Context) (*OrphanError, error) {
	var o OrphanError
	var q string
	err := r.ctrl.QueryRow(ctx, orphanQuery, BuildApplication).Scan(&o.PID, &o.Since, &o.Phase, &o.Index, &q)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for a build a previous run left: %w", err)
	}
	if o.Index == "" {
		// Before the catalog has the index, the statement names it.
		if bs := builtIndexes(q); len(bs) > 0 {
			o.Index = bs[0].name
		}
	}
	return &o, nil
}

// waitForOrphan returns when no orphaned build is left, or with an OrphanError once --wait is over.
func (r *runner) waitForOrphan(ctx context.Context) error {
	deadline := time.Now().Add(r.o.Wait)
	for {
		o, err := r.orphan(ctx)
		if err != nil || o == nil {
			return err
		}
		if !time.Now().Before(deadline) {
			return o
		}
		r.log.Info("a previous run's build is still running; waiting", "pid", o.PID, "index", o.Index, "until", deadline.Format(time.TimeOnly))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// apply runs one of pgtune's own migrations on the build session, recording it in golang-migrate's
// table as golang-migrate does (dirty while it runs), so any golang-migrate runner agrees on the
// version. Running it here rather than through golang-migrate gives the build a session pgtune
// controls: a lock_timeout per statement, a watcher that bounds the table-lock wait apart from the
// waits for older snapshots, and the server's error untouched.
func (r *runner) apply(ctx context.Context, mig *Migration) error {
	if err := r.drv.Lock(); err != nil {
		return r.migrateLockError(ctx, err)
	}
	err := r.drv.SetVersion(int(mig.Version), true)
	if err == nil {
		err = r.build(ctx, mig)
		if err == nil {
			err = r.drv.SetVersion(int(mig.Version), false)
		}
	}
	if uerr := r.drv.Unlock(); uerr != nil && err == nil {
		err = uerr
	}
	return err
}

// build runs a migration's text in one go (several statements run as one transaction, as
// golang-migrate runs them). A CONCURRENTLY build runs with no server lock_timeout: it counts the
// waits for older transactions as lock waits, so any transaction older than --lock-timeout (a
// nightly pg_dump) would cancel every build. The watcher bounds the table-lock wait itself.
func (r *runner) build(ctx context.Context, mig *Migration) error {
	concurrent := false
	if stmts, err := query.ParseMigration(mig.Up); err == nil {
		for _, st := range stmts {
			concurrent = concurrent || st.Concurrent
		}
	}
	timeout := r.o.LockTimeout.Milliseconds()
	if concurrent {
		timeout = 0
	}
	if _, err := r.buildConn.Exec(ctx, connect.Marker+"SET lock_timeout = "+strconv.FormatInt(timeout, 10)); err != nil {
		return err
	}
	w := r.startWatch(ctx, mig, concurrent)
	if r.o.started != nil {
		r.o.started(mig)
	}
	_, err := r.buildConn.Exec(ctx, mig.Up)
	stopped := w.stop()
	if err != nil && stopped != nil {
		return stopped
	}
	return err
}

// watch follows a build from a session of its own: progress, who it waits for, and the limits.
type watch struct {
	r          *runner
	mig        *Migration
	concurrent bool
	done       chan struct{}
	finished   chan struct{}
	mu         sync.Mutex
	stopped    *WaitError
}

func (r *runner) startWatch(ctx context.Context, mig *Migration, concurrent bool) *watch {
	w := &watch{r: r, mig: mig, concurrent: concurrent, done: make(chan struct{}), finished: make(chan struct{})}
	go w.run(ctx)
	return w
}

// stop ends the watch; it returns the WaitError when the watcher cancelled the build.
func (w *watch) stop() error {
	close(w.done)
	<-w.finished
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped != nil {
		return w.stopped
	}
	return nil
}

const buildStateQuery = connect.Marker + `SELECT coalesce(a.wait_event_type, ''), coalesce(a.wait_event, ''), coalesce(p.phase, ''),
       coalesce(p.current_locker_pid, 0), coalesce(p.blocks_done, 0), coalesce(p.blocks_total, 0),
       coalesce(p.tuples_done, 0), coalesce(p.tuples_total, 0), pg_catalog.pg_blocking_pids(a.pid)
FROM pg_catalog.pg_stat_activity a
LEFT JOIN pg_catalog.pg_stat_progress_create_index p ON p.pid = a.pid
WHERE a.pid = $1`

const blockersQuery = connect.Marker + `SELECT pid, coalesce(application_name, ''), coalesce(usename::text, ''), coalesce(state, ''),
       coalesce(extract(epoch FROM now() - xact_start), 0)::float8, coalesce(query, '')
FROM pg_catalog.pg_stat_activity WHERE pid = ANY($1) ORDER BY xact_start NULLS LAST, pid`

func (w *watch) run(ctx context.Context) {
	defer close(w.finished)
	r := w.r
	conn, err := connect.Connect(ctx, r.cfg)
	if err != nil {
		r.log.Warn("cannot watch the build (no progress, no wait limits)", "err", err)
		return
	}
	defer conn.Close(context.Background())
	connect.Untrack(ctx, conn)
	label := fmt.Sprintf("%06d_%s", w.mig.Version, w.mig.Name)
	var lockSince, snapSince, lastReport time.Time
	for {
		select {
		case <-w.done:
			return
		case <-time.After(r.o.Poll):
		}
		var waitType, waitEvent, phase string
		var locker int
		var blocks, total, tuples, tupTotal int64
		var blocking []int32
		err := conn.QueryRow(ctx, buildStateQuery, r.buildPID).Scan(&waitType, &waitEvent, &phase, &locker, &blocks, &total, &tuples, &tupTotal, &blocking)
		if err != nil {
			continue
		}
		now := time.Now()
		snapshots := waitType == "Lock" && (waitEvent == "virtualxid" || waitEvent == "transactionid")
		tableLock := waitType == "Lock" && !snapshots
		if !tableLock {
			lockSince = time.Time{}
		} else if lockSince.IsZero() {
			lockSince = now
		}
		if !snapshots {
			snapSince = time.Time{}
		} else if snapSince.IsZero() {
			snapSince = now
		}
		pids := blocking
		if locker != 0 && !containsPID(pids, locker) {
			pids = append([]int32{int32(locker)}, pids...)
		}
		switch {
		case tableLock && w.concurrent && now.Sub(lockSince) >= r.o.LockTimeout:
			w.cancel(ctx, conn, &WaitError{Waited: now.Sub(lockSince), Blockers: blockers(ctx, conn, pids)})
			return
		case snapshots && r.o.MaxWait > 0 && now.Sub(snapSince) >= r.o.MaxWait:
			w.cancel(ctx, conn, &WaitError{Snapshots: true, Waited: now.Sub(snapSince), Blockers: blockers(ctx, conn, pids)})
			return
		case snapshots:
			if now.Sub(lastReport) >= r.o.ReportEvery {
				lastReport = now
				bs := blockers(ctx, conn, pids)
				var who []string
				for _, b := range bs {
					who = append(who, b.String())
				}
				r.log.Info("the build waits for older transactions to end (CREATE INDEX CONCURRENTLY must)", "migration", label,
					"phase", phase, "waited", now.Sub(snapSince).Round(time.Second).String(), "max_wait", r.o.MaxWait.String(), "blockers", strings.Join(who, "; "))
				if r.o.Progress != nil {
					r.o.Progress(fmt.Sprintf("%s: %s, %v so far: %s", label, phase, now.Sub(snapSince).Round(time.Second), strings.Join(who, "; ")))
				}
			}
		case r.o.Progress != nil && phase != "":
			pct := ""
			if total > 0 {
				pct = fmt.Sprintf(" %d%% of blocks", 100*blocks/total)
			} else if tupTotal > 0 {
				pct = fmt.Sprintf(" %d%% of tuples", 100*tuples/tupTotal)
			}
			r.o.Progress(fmt.Sprintf("%s: %s%s", label, phase, pct))
		}
	}
}

func containsPID(pids []int32, pid int) bool {
	for _, p := range pids {
		if int(p) == pid {
			return true
		}
	}
	return false
}

// cancel stops the build: the server rolls the statement back (CONCURRENTLY leaves an invalid
// index, which the run's cleanup drops).
func (w *watch) cancel(ctx context.Context, conn *pgx.Conn, why *WaitError) {
	w.mu.Lock()
	w.stopped = why
	w.mu.Unlock()
	w.r.log.Warn("stopping the build", "why", why.Error())
	if _, err := conn.Exec(ctx, connect.Marker+"SELECT pg_catalog.pg_cancel_backend($1)", w.r.buildPID); err != nil {
		w.r.log.Warn("could not cancel the build", "pid", w.r.buildPID, "err", err)
	}
}

func blockers(ctx context.Context, conn *pgx.Conn, pids []int32) []Blocker {
	if len(pids) == 0 {
		return nil
	}
	rows, err := conn.Query(ctx, blockersQuery, pids)
	if err != nil {
		return nil
	}
	var out []Blocker
	for rows.Next() {
		var b Blocker
		var age float64
		if rows.Scan(&b.PID, &b.Application, &b.User, &b.State, &age, &b.Query) == nil {
			b.Query, _ = query.Redact(b.Query)
			b.XactAge = time.Duration(age * float64(time.Second))
			out = append(out, b)
		}
	}
	rows.Close()
	return out
}

// migrateLockError explains a failure to take golang-migrate's own advisory lock: someone else
// (a golang-migrate runner, or a build a killed run left) holds it.
func (r *runner) migrateLockError(ctx context.Context, err error) error {
	aid, _ := strconv.ParseUint(r.migrateLockID, 10, 32)
	var b Blocker
	var age float64
	qerr := r.ctrl.QueryRow(ctx, connect.Marker+`SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(a.state, ''),
       coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8, coalesce(a.query, '')
FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1 LIMIT 1`, uint32(aid)).
		Scan(&b.PID, &b.Application, &b.User, &b.State, &age, &b.Query)
	if qerr != nil {
		return fmt.Errorf("take golang-migrate's lock: %w", err)
	}
	b.XactAge = time.Duration(age * float64(time.Second))
	b.Query, _ = query.Redact(b.Query)
	return fmt.Errorf("golang-migrate's lock on this database is held by %s: another migration runner (or a build a killed run left) is working; wait for it, or stop it with SELECT pg_cancel_backend(%d)", b, b.PID)
}

// Recurs tells whether a failed migration would fail the same way if run again unchanged (a
// refused statement, a missing object, a duplicate value), as opposed to a failure of the moment
// (a lock or snapshot wait, a deadlock, a lost connection, a cancel).
func Recurs(err error) bool {
	if _, ok := errors.AsType[*WaitError](err); ok {
		return false
	}
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	if !ok {
		return false // the connection, a context: nothing about the migration itself
	}
	switch {
	case pgErr.Code == "55P03", pgErr.Code == "40P01", pgErr.Code == "40001", pgErr.Code == "57014":
		return false // lock timeout, deadlock, serialization, cancelled
	case strings.HasPrefix(pgErr.Code, "57P"), strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "53"):
		return false // shutdown, connection, resources (disk, memory): run again once fixed
	}
	return true
}
