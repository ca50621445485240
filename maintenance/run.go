package maintenance

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
)

// ErrBusy means another `pgtune maintain run` holds this database's maintenance lock.
var ErrBusy = errors.New("another pgtune maintain run is working on this database")

// ErrStandby means the server is a standby, where VACUUM cannot run.
var ErrStandby = errors.New("the server is a standby (pg_is_in_recovery): run maintenance on the primary")

// LockKey is the session advisory lock one maintenance run per database holds for its whole run
// (pg_try_advisory_lock(LockKey)): a monitoring query can see a run in pg_locks by it.
var LockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("pgtune maintain run"))
	return int64(h.Sum64() >> 1)
}()

// RunOptions control a run.
type RunOptions struct {
	// Deadline ends the window: no action starts unless its estimate fits before it, and every
	// statement's timeout ends there (zero: no window).
	Deadline time.Time
	// LockTimeout bounds every lock wait (default 5 s); SKIP_LOCKED skips a table locked now.
	LockTimeout time.Duration
	// Jobs is how many tables are worked on at once (default 1).
	Jobs int
	// DryRun prints what would run and starts nothing.
	DryRun bool
	// CostDelay and CostLimit throttle VACUUM (vacuum_cost_delay, vacuum_cost_limit; 0: as set).
	CostDelay time.Duration
	CostLimit int
	// BufferUsageLimit is VACUUM/ANALYZE's ring buffer (16+; "" leaves it).
	BufferUsageLimit string
	// Parallel is VACUUM's PARALLEL for tables with two or more indexes (13+; 0 leaves it).
	Parallel int
	// Truncate lets VACUUM truncate empty pages at the end of a table, which takes an ACCESS
	// EXCLUSIVE lock and is replayed on standbys (off by default).
	Truncate bool
	// IndexCleanup is VACUUM's INDEX_CLEANUP: "" (PostgreSQL's default, AUTO from 14), "auto"
	// (14+), "on" or "off". Emergency freezes use off whatever it says.
	IndexCleanup string
	// Log receives one record per action.
	Log *slog.Logger
	// Progress, if set, is told what runs now (every second or so).
	Progress func(running []Progress)
}

// Progress is one running action's progress from pg_stat_progress_vacuum.
type Progress struct {
	Table   string `json:"table"`
	Phase   string `json:"phase"`
	Scanned int64  `json:"heap_blks_scanned"`
	Total   int64  `json:"heap_blks_total"`
}

// Status is how an action ended.
type Status string

// Statuses.
const (
	StatusDone       Status = "done"
	StatusSkipped    Status = "skipped"     // locked by someone else
	StatusNotStarted Status = "not_started" // would not fit the window, or the run was interrupted
	StatusFailed     Status = "failed"
	StatusDryRun     Status = "dry_run"
	// StatusNotPermitted: the role may not vacuum or analyse the table (PostgreSQL skips it with a
	// warning and no error): not done, and the run fails.
	StatusNotPermitted Status = "not_permitted"
)

// Result is one action's outcome.
type Result struct {
	Table    string        `json:"table"`
	Ops      []Operation   `json:"ops"`
	SQL      string        `json:"sql"`
	Status   Status        `json:"status"`
	Reason   string        `json:"reason,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Estimate time.Duration `json:"estimate_ns"`
	// From VACUUM VERBOSE: heap pages scanned and removed, dead tuples removed.
	PagesScanned  int64 `json:"pages_scanned"`
	PagesRemoved  int64 `json:"pages_removed"`
	TuplesRemoved int64 `json:"tuples_removed"`
	// Pages is the table's size in pages when planned (for the seconds-per-page history).
	Pages int64 `json:"pages"`
}

// Summary is a run's outcome.
type Summary struct {
	Results      []Result      `json:"results"`
	Done         int           `json:"done"`
	Skipped      int           `json:"skipped"`
	NotStarted   int           `json:"not_started"`
	Failed       int           `json:"failed"`
	NotPermitted int           `json:"not_permitted"`
	Interrupted  bool          `json:"interrupted"`
	Elapsed      time.Duration `json:"elapsed_ns"`
}

// Statement renders the SQL for an action on a server version, with the run's options.
func Statement(a *Action, version int, o RunOptions) string {
	ident := quoteQualified(a.Table)
	if !a.Has(OpVacuum) && !a.Has(OpFreeze) {
		opts := []string{"SKIP_LOCKED", "VERBOSE"}
		if o.BufferUsageLimit != "" && version >= 160000 {
			opts = append(opts, "BUFFER_USAGE_LIMIT '"+o.BufferUsageLimit+"'")
		}
		only := ""
		if a.Kind == "partitioned" && version >= 180000 {
			only = "ONLY " // 18: the parent's own statistics, not every partition again
		}
		return fmt.Sprintf("ANALYZE (%s) %s%s", strings.Join(opts, ", "), only, ident)
	}
	var opts []string
	if a.Has(OpFreeze) {
		opts = append(opts, "FREEZE")
	}
	opts = append(opts, "SKIP_LOCKED", "VERBOSE")
	if a.Has(OpAnalyze) {
		opts = append(opts, "ANALYZE")
	}
	if !o.Truncate {
		opts = append(opts, "TRUNCATE false")
	}
	switch {
	case a.Emergency:
		opts = append(opts, "INDEX_CLEANUP false") // finish the freeze first; the indexes can wait
	case o.IndexCleanup == "auto" && version >= 140000:
		opts = append(opts, "INDEX_CLEANUP AUTO")
	case o.IndexCleanup == "on":
		opts = append(opts, "INDEX_CLEANUP true")
	case o.IndexCleanup == "off":
		opts = append(opts, "INDEX_CLEANUP false")
	}
	if version >= 140000 {
		opts = append(opts, "PROCESS_TOAST true")
	}
	if o.Parallel > 0 && version >= 130000 && a.Indexes >= 2 {
		opts = append(opts, fmt.Sprintf("PARALLEL %d", o.Parallel))
	}
	if o.BufferUsageLimit != "" && version >= 160000 {
		opts = append(opts, "BUFFER_USAGE_LIMIT '"+o.BufferUsageLimit+"'")
	}
	return fmt.Sprintf("VACUUM (%s) %s", strings.Join(opts, ", "), ident)
}

// quoteQualified quotes "schema.name" as an SQL identifier pair (flexible-freeze quoted the
// pair as one identifier, so tables outside search_path failed).
func quoteQualified(table string) string {
	schema, name, ok := strings.Cut(table, ".")
	if !ok {
		return quote.Ident(table)
	}
	return quote.Qualified(schema, name)
}

// Connector opens a new session to the database.
type Connector func(ctx context.Context) (*pgx.Conn, error)

// ConnConfig adapts a connection configuration so that cancelling a context cancels the running
// statement on the server (a cancel request), not just the client's socket: a VACUUM stopped by
// SIGTERM must stop on the server too.
func ConnConfig(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	c := cfg.Copy()
	c.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 5 * time.Second}
	}
	return c
}

// notices collects one session's NOTICE/INFO/WARNING messages for the action it runs.
type notices struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notices) add(_ *pgconn.PgConn, m *pgconn.Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.msgs = append(n.msgs, m.Message+"\n"+m.Detail)
}

func (n *notices) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.msgs
	n.msgs = nil
	return out
}

var (
	skippedRe = regexp.MustCompile(`skipping (vacuum|analyze) of .* lock not available`)
	// The WARNING (not an error) a VACUUM or ANALYZE the role may not run gives: "skipping "t" ---
	// only table or database owner can vacuum it" (before 17), "permission denied to vacuum "t",
	// skipping it" (17+).
	deniedRe = regexp.MustCompile(`only (table or database owner|superuser) can (vacuum|analyze) it|permission denied to (vacuum|analyze) `)
	pagesRe  = regexp.MustCompile(`pages: (\d+) removed, (\d+) remain, (\d+) scanned`)
	tuplesRe = regexp.MustCompile(`tuples: (\d+) removed`)
	// Before 15, VACUUM VERBOSE said it per table in other words: "found 40000 removable, 20000
	// nonremovable row versions in 266 out of 266 pages", and "truncated 266 to 100 pages".
	foundRe     = regexp.MustCompile(`found (\d+) removable, \d+ nonremovable row versions in (\d+) out of \d+ pages`)
	truncatedRe = regexp.MustCompile(`truncated (\d+) to (\d+) pages`)
)

// Run executes plan's actions in order, at most o.Jobs at a time, within the window. It takes
// the database's maintenance lock first (ErrBusy if another run has it) and refuses a standby.
// Cancelling ctx (SIGINT, SIGTERM) cancels the running statements on the server and returns the
// summary so far with Interrupted set.
func Run(ctx context.Context, cfg *pgx.ConnConfig, plan *Plan, o RunOptions) (*Summary, error) {
	o = o.withDefaults()
	began := time.Now()
	if o.DryRun {
		sum := dryRun(plan, o)
		sum.Elapsed = time.Since(began)
		return sum, nil
	}
	cfg = ConnConfig(cfg)
	lockConn, err := takeLock(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer lockConn.Close(context.Background())
	defer lockConn.Exec(context.Background(), connect.Marker+"SELECT pg_catalog.pg_advisory_unlock($1)", LockKey) //nolint:errcheck // the session's end releases it anyway

	r := &run{cfg: cfg, plan: plan, o: o, queue: make(chan int), results: make([]Result, len(plan.Actions)),
		pids: map[uint32]string{}, workerErr: make(chan error, o.Jobs)}
	var wg sync.WaitGroup
	for range o.Jobs {
		wg.Go(func() { r.worker(ctx) })
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.reportProgress(ctx, lockConn, stopProgress)
	}()
	r.feed(ctx)
	close(r.queue)
	wg.Wait()
	close(stopProgress)
	<-progressDone

	sum := &Summary{}
	for _, res := range r.results {
		sum.add(res)
	}
	sum.Interrupted = ctx.Err() != nil
	sum.Elapsed = time.Since(began)
	select {
	case err := <-r.workerErr:
		if sum.Done == 0 && !sum.Interrupted {
			return sum, err
		}
	default:
	}
	return sum, nil
}

// withDefaults fills what the caller left out.
func (o RunOptions) withDefaults() RunOptions {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 5 * time.Second
	}
	if o.Jobs < 1 {
		o.Jobs = 1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// dryRun simulates the window: the actions laid out on the jobs as a run would (Timeline).
func dryRun(plan *Plan, o RunOptions) *Summary {
	sum := &Summary{}
	var window time.Duration
	if !o.Deadline.IsZero() {
		window = max(time.Until(o.Deadline), time.Nanosecond)
	}
	for _, s := range Timeline(plan, o.Jobs, window) {
		a := &plan.Actions[s.Action]
		r := Result{Table: a.Table, Ops: a.Ops, SQL: Statement(a, plan.ServerVersion, o), Status: StatusDryRun, Estimate: a.Estimate, Pages: a.Pages}
		switch {
		case s.Skipped != "":
			r.Status, r.Reason = StatusNotPermitted, a.NotPermitted
		case !s.Fits:
			r.Status, r.Reason = StatusNotStarted, fmt.Sprintf("estimated %v, %v would be left in the window", a.Estimate.Round(time.Second), (window-s.Start).Round(time.Second))
		}
		sum.add(r)
	}
	return sum
}

// takeLock opens the run's own session and takes the database's maintenance lock on it: a
// standby is refused (ErrStandby), and so is a second run (ErrBusy).
func takeLock(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	lockConn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, connect.ConnectError(cfg, err)
	}
	var standby, got bool
	if err := lockConn.QueryRow(ctx, connect.Marker+"SELECT pg_catalog.pg_is_in_recovery()").Scan(&standby); err != nil {
		lockConn.Close(context.Background())
		return nil, err
	}
	if standby {
		lockConn.Close(context.Background())
		return nil, ErrStandby
	}
	if err := lockConn.QueryRow(ctx, connect.Marker+"SELECT pg_catalog.pg_try_advisory_lock($1)", LockKey).Scan(&got); err != nil {
		lockConn.Close(context.Background())
		return nil, err
	}
	if !got {
		lockConn.Close(context.Background())
		return nil, ErrBusy
	}
	return lockConn, nil
}

// run is one Run's shared state: the queue of action indexes the workers take, their results,
// and which table each worker's backend is on (for the progress report).
type run struct {
	cfg       *pgx.ConnConfig
	plan      *Plan
	o         RunOptions
	queue     chan int
	results   []Result
	pidsMu    sync.Mutex
	pids      map[uint32]string
	workerErr chan error
}

// worker runs the actions it takes from the queue on a session of its own.
func (r *run) worker(ctx context.Context) {
	plan, o := r.plan, r.o
	n := &notices{}
	wcfg := r.cfg.Copy()
	wcfg.OnNotice = n.add
	// A worker that cannot start still takes its share of the queue, marking each action
	// not started: otherwise the feeder would wait on it for ever.
	drain := func(why string) {
		for i := range r.queue {
			r.results[i] = Result{Table: plan.Actions[i].Table, Ops: plan.Actions[i].Ops, Status: StatusNotStarted, Reason: why}
		}
	}
	conn, err := pgx.ConnectConfig(ctx, wcfg)
	if err != nil {
		r.workerErr <- connect.ConnectError(r.cfg, err)
		drain("no session: " + err.Error())
		return
	}
	defer conn.Close(context.Background())
	setup := []string{fmt.Sprintf("SET lock_timeout = %d", o.LockTimeout.Milliseconds())}
	if o.CostDelay > 0 {
		setup = append(setup, fmt.Sprintf("SET vacuum_cost_delay = %g", float64(o.CostDelay.Microseconds())/1000))
	}
	if o.CostLimit > 0 {
		setup = append(setup, fmt.Sprintf("SET vacuum_cost_limit = %d", o.CostLimit))
	}
	for _, s := range setup {
		if _, err := conn.Exec(ctx, connect.Marker+s); err != nil {
			r.workerErr <- fmt.Errorf("%s: %w", s, err)
			drain(s + " failed: " + err.Error())
			return
		}
	}
	pid := conn.PgConn().PID()
	for i := range r.queue {
		a := &plan.Actions[i]
		r.pidsMu.Lock()
		r.pids[pid] = a.Table
		r.pidsMu.Unlock()
		r.results[i] = runAction(ctx, conn, n, a, plan.ServerVersion, o)
		r.pidsMu.Lock()
		delete(r.pids, pid)
		r.pidsMu.Unlock()
		logResult(o.Log, &r.results[i])
	}
}

// reportProgress tells o.Progress, every second until stop, how far each running action is.
func (r *run) reportProgress(ctx context.Context, lockConn *pgx.Conn, stop <-chan struct{}) {
	if r.o.Progress == nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		r.pidsMu.Lock()
		running := maps.Clone(r.pids)
		r.pidsMu.Unlock()
		if len(running) == 0 {
			continue
		}
		r.o.Progress(readProgress(ctx, lockConn, running))
	}
}

// feed hands out the actions in order; what may not or cannot fit is recorded instead, and once
// the context ends, none more start.
func (r *run) feed(ctx context.Context) {
	plan, o := r.plan, r.o
	for i := range plan.Actions {
		a := &plan.Actions[i]
		if a.NotPermitted != "" {
			// Checked up front: PostgreSQL would skip it with only a WARNING.
			r.results[i] = Result{Table: a.Table, Ops: a.Ops, SQL: Statement(a, plan.ServerVersion, o), Status: StatusNotPermitted, Estimate: a.Estimate, Pages: a.Pages, Reason: a.NotPermitted}
			logResult(o.Log, &r.results[i])
			continue
		}
		if !o.Deadline.IsZero() {
			if left := time.Until(o.Deadline); a.Estimate > left {
				r.results[i] = Result{Table: a.Table, Ops: a.Ops, SQL: Statement(a, plan.ServerVersion, o), Status: StatusNotStarted, Estimate: a.Estimate, Pages: a.Pages,
					Reason: fmt.Sprintf("estimated %v, %v left in the window", a.Estimate.Round(time.Second), left.Round(time.Second))}
				logResult(o.Log, &r.results[i])
				continue
			}
		}
		select {
		case r.queue <- i:
		case <-ctx.Done():
			for j := i; j < len(plan.Actions); j++ {
				if r.results[j].Status == "" {
					r.results[j] = Result{Table: plan.Actions[j].Table, Ops: plan.Actions[j].Ops, Status: StatusNotStarted, Reason: "interrupted", Pages: plan.Actions[j].Pages}
				}
			}
			return
		}
	}
}

func (s *Summary) add(r Result) {
	if r.Status == "" {
		r.Status, r.Reason = StatusNotStarted, "interrupted"
	}
	s.Results = append(s.Results, r)
	switch r.Status {
	case StatusDone, StatusDryRun:
		s.Done++
	case StatusSkipped:
		s.Skipped++
	case StatusNotStarted:
		s.NotStarted++
	case StatusFailed:
		s.Failed++
	case StatusNotPermitted:
		s.NotPermitted++
	}
}

// runAction runs one action's statement on conn.
func runAction(ctx context.Context, conn *pgx.Conn, n *notices, a *Action, version int, o RunOptions) Result {
	r := Result{Table: a.Table, Ops: a.Ops, SQL: Statement(a, version, o), Estimate: a.Estimate, Pages: a.Pages, Started: time.Now()}
	if ctx.Err() != nil {
		r.Status, r.Reason = StatusNotStarted, "interrupted"
		return r
	}
	timeout := int64(0)
	if !o.Deadline.IsZero() {
		left := time.Until(o.Deadline)
		if left <= 0 {
			r.Status, r.Reason = StatusNotStarted, "the window has ended"
			return r
		}
		timeout = max(left.Milliseconds(), 1)
	}
	if _, err := conn.Exec(ctx, connect.Marker+"SET statement_timeout = "+strconv.FormatInt(timeout, 10)); err != nil {
		r.Status, r.Reason = StatusFailed, err.Error()
		return r
	}
	n.take()
	_, err := conn.Exec(ctx, connect.Marker+r.SQL)
	r.Duration = time.Since(r.Started)
	msgs := n.take()
	for _, m := range msgs {
		if skippedRe.MatchString(m) {
			r.Status, r.Reason = StatusSkipped, "locked by another session (SKIP_LOCKED)"
		}
		if IsNotPermitted(m) {
			// The privilege changed since the plan (or the snapshot had no privilege data).
			r.Status, r.Reason = StatusNotPermitted, "PostgreSQL skipped it: "+strings.TrimSpace(strings.SplitN(m, "\n", 2)[0])+
				"; make the role the table's owner (or, on 17+, GRANT MAINTAIN ON TABLE ... or GRANT pg_maintain)"
		}
		if p := pagesRe.FindStringSubmatch(m); p != nil {
			removed, _ := strconv.ParseInt(p[1], 10, 64)
			scanned, _ := strconv.ParseInt(p[3], 10, 64)
			r.PagesRemoved += removed
			r.PagesScanned += scanned
		}
		if t := tuplesRe.FindStringSubmatch(m); t != nil {
			removed, _ := strconv.ParseInt(t[1], 10, 64)
			r.TuplesRemoved += removed
		}
		if f := foundRe.FindStringSubmatch(m); f != nil {
			removed, _ := strconv.ParseInt(f[1], 10, 64)
			scanned, _ := strconv.ParseInt(f[2], 10, 64)
			r.TuplesRemoved += removed
			r.PagesScanned += scanned
		}
		if tr := truncatedRe.FindStringSubmatch(m); tr != nil {
			from, _ := strconv.ParseInt(tr[1], 10, 64)
			to, _ := strconv.ParseInt(tr[2], 10, 64)
			r.PagesRemoved += max(from-to, 0)
		}
	}
	var pgErr *pgconn.PgError
	switch {
	case err == nil && r.Status == "":
		r.Status = StatusDone
	case err == nil:
	case ctx.Err() != nil:
		r.Status, r.Reason = StatusFailed, "interrupted: the statement was cancelled"
	case errors.As(err, &pgErr) && pgErr.Code == "55P03":
		r.Status, r.Reason = StatusSkipped, "lock_timeout: another session held a lock it needed"
	case errors.As(err, &pgErr) && pgErr.Code == "57014":
		r.Status, r.Reason = StatusFailed, "the window ended while it ran (statement_timeout); an interrupted VACUUM FREEZE does not advance relfrozenxid"
	case errors.As(err, &pgErr) && pgErr.Code == "42P01":
		r.Status, r.Reason = StatusSkipped, "the table no longer exists"
	default:
		r.Status, r.Reason = StatusFailed, err.Error()
	}
	return r
}

// IsNotPermitted tells whether a VACUUM or ANALYZE message is PostgreSQL skipping a table the
// role may not maintain.
func IsNotPermitted(msg string) bool { return deniedRe.MatchString(msg) }

func logResult(log *slog.Logger, r *Result) {
	ops := make([]string, len(r.Ops))
	for i, o := range r.Ops {
		ops[i] = string(o)
	}
	log.Info("maintenance action", "table", r.Table, "action", strings.Join(ops, "+"), "status", string(r.Status),
		"duration_ms", r.Duration.Milliseconds(), "estimate_ms", r.Estimate.Milliseconds(), "pages_scanned", r.PagesScanned,
		"pages_removed", r.PagesRemoved, "dead_tuples_removed", r.TuplesRemoved, "reason", r.Reason)
}

const progressQuery = connect.Marker + `SELECT p.pid, p.phase, p.heap_blks_scanned, p.heap_blks_total
FROM pg_catalog.pg_stat_progress_vacuum p WHERE p.pid = ANY($1)`

func readProgress(ctx context.Context, conn *pgx.Conn, running map[uint32]string) []Progress {
	pids := make([]uint32, 0, len(running))
	for p := range running {
		pids = append(pids, p)
	}
	rows, err := conn.Query(ctx, progressQuery, pids)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []Progress
	for rows.Next() {
		var pid uint32
		var p Progress
		if rows.Scan(&pid, &p.Phase, &p.Scanned, &p.Total) == nil {
			p.Table = running[pid]
			out = append(out, p)
		}
	}
	return out
}
