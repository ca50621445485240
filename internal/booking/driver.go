package booking

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/internal/connect"
)

// actions is the app's behaviour: what users and jobs do, and how often (weights sum to 1,000).
var actions = []Action{
	{"view_slots", 120, []string{"barber_availability", "barber_time_off", "barber_booked_slots", "barber_service_menu"}, viewSlots, onReplica},
	{"barber_day_view", 110, []string{"barber_day"}, barberDayView, onReplica},
	{"client_home", 80, []string{"client_upcoming"}, clientHome, onPrimary},
	{"my_bookings", 60, []string{"my_bookings_count", "my_bookings_page"}, myBookings, onPrimary},
	{"notification_poll", 60, []string{"notification_poller", "notification_mark_sent"}, notificationPoll, onPrimary},
	{"browse_location", 50, []string{"shop_by_slug", "shop_locations", "location_barbers", "location_day_load"}, browseLocation, onReplica},
	{"appointment_detail", 40, []string{"appointment_by_id", "payments_for_appointment"}, appointmentDetail, onPrimary},
	{"barber_week_view", 40, []string{"barber_week", "barber_day_count_by_date"}, barberWeekView, onReplica},
	{"client_profile", 40, []string{"client_history"}, clientProfile, onReplica},
	{"login", 40, []string{"user_login", "touch_last_login"}, login, onPrimary},
	{"stripe_webhook", 40, []string{"payment_by_stripe_id", "payment_mark_from_webhook"}, stripeWebhook, onPrimary},
	{"book", 40, []string{"double_booking_check", "book_appointment", "queue_notification", "queue_notification"}, book, onPrimary},
	{"front_desk_today", 30, []string{"location_day_status"}, frontDeskToday, onReplica},
	{"barber_rating", 30, []string{"barber_rating"}, barberRating, onReplica},
	{"checkout", 30, []string{"complete_appointment", "create_payment"}, checkout, onPrimary},
	{"my_past_bookings", 20, []string{"my_past_bookings_page"}, myPastBookings, onReplica},
	{"reviews_inbox", 20, []string{"reviews_inbox"}, reviewsInbox, onPrimary},
	{"confirm", 20, []string{"confirm_appointment"}, confirm, onPrimary},
	{"search_client_email", 15, []string{"client_search_email"}, searchClientEmail, onReplica},
	{"search_client_name", 15, []string{"client_search_name"}, searchClientName, onReplica},
	{"cancel", 12, []string{"cancel_appointment", "cancel_notifications"}, cancel, onPrimary},
	{"payout_history", 10, []string{"barber_payouts"}, payoutHistory, onReplica},
	{"reminder_job", 10, []string{"reminder_window"}, reminderJob, onPrimary},
	{"reschedule", 10, []string{"double_booking_check", "reschedule_appointment", "reschedule_reminder"}, reschedule, onPrimary},
	{"leave_review", 10, []string{"leave_review"}, leaveReview, onPrimary},
	{"search_client_phone", 8, []string{"client_search_phone"}, searchClientPhone, onReplica},
	{"new_client", 8, []string{"create_client"}, newClient, onPrimary},
	{"reply_review", 8, []string{"reply_review"}, replyReview, onPrimary},
	{"revenue_dashboard", 8, []string{"revenue_by_day"}, revenueDashboard, onReplica},
	{"retry_failed", 5, []string{"notification_retry_failed"}, retryFailed, onPrimary},
	{"payout_job", 4, []string{"payout_period_total"}, payoutJob, onPrimary},
	{"revenue_by_barber", 4, []string{"revenue_by_barber"}, revenueByBarber, onReplica},
	{"no_show_report", 3, []string{"client_no_shows"}, noShowReport, onReplica},
}

// bound holds every statement's bound form (RunOptions.BindAll).
var bound = func() map[string]Bound {
	m := make(map[string]Bound, len(Statements))
	for _, s := range Statements {
		m[s.Name] = Bind(s.SQL)
	}
	return m
}()

// totalWeight is the sum of the actions' weights.
var totalWeight = func() int {
	total := 0
	for _, a := range actions {
		total += a.Weight
	}
	return total
}()

// RunOptions control Run.
type RunOptions struct {
	// Actions is how many actions to run in all (each is one transaction or screen load).
	Actions int
	// Clients is how many concurrent connections share them.
	Clients int
	// Seed makes the sequence of actions repeatable.
	Seed uint64
	// Progress, if set, is called now and then with the number of actions done.
	Progress func(done int)
	// Latencies keeps every statement's latency (client side) in RunResult.Latencies, for
	// percentiles.
	Latencies bool
	// BindAll sends every statement in its bound form (see Bind): every value a parameter, as
	// an ORM sends them, so no literal reaches pg_stat_statements or pg_stat_activity.
	BindAll bool
	// Replicas, if any, are the read replicas of the database cfg points at: the actions the
	// app reads from a replica (Route) go to them, each client on its own replica, round
	// robin; the rest to the primary.
	Replicas []*pgx.ConnConfig
}

// StatementStat is what the driver saw of one statement.
type StatementStat struct {
	Name    string  `json:"name"`
	Calls   int64   `json:"calls"`
	Errors  int64   `json:"errors"`
	TotalMs float64 `json:"total_ms"`
	MeanMs  float64 `json:"mean_ms"`
	// ReplicaCalls is how many of the calls ran on a read replica.
	ReplicaCalls int64 `json:"replica_calls"`
}

// RunResult summarises a run.
type RunResult struct {
	Actions    int             `json:"actions"`
	Clients    int             `json:"clients"`
	Duration   time.Duration   `json:"duration_ns"`
	Statements []StatementStat `json:"statements"`
	Errors     int64           `json:"errors"`
	// FirstErrors holds up to five distinct error messages, for diagnosis.
	FirstErrors []string `json:"first_errors,omitempty"`
	// Latencies are every statement's latency, in the order they finished (with
	// RunOptions.Latencies).
	Latencies []time.Duration `json:"-"`
}

// ErrNoData means the database does not hold the booking demo's data.
var ErrNoData = errors.New("database holds no booking data")

// Run executes the app's mix against the database dsn points at, on Clients connections, until
// Actions actions have run. Statement errors are counted, not fatal; losing a connection is.
func Run(ctx context.Context, cfg *pgx.ConnConfig, o RunOptions) (*RunResult, error) {
	if o.Actions < 1 {
		return nil, fmt.Errorf("actions must be at least 1, got %d", o.Actions)
	}
	if o.Clients < 1 || o.Clients > 200 {
		return nil, fmt.Errorf("clients must be between 1 and 200, got %d", o.Clients)
	}
	o.Clients = min(o.Clients, o.Actions)
	conns := make([]*pgx.Conn, 0, o.Clients)
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	for range o.Clients {
		c, err := connect.Connect(ctx, cfg)
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	replicaConns := make([]*pgx.Conn, 0, len(o.Replicas))
	defer func() {
		for _, c := range replicaConns {
			c.Close(context.Background())
		}
	}()
	if len(o.Replicas) > 0 {
		for i := range o.Clients {
			rc := o.Replicas[i%len(o.Replicas)]
			c, err := connect.Connect(ctx, rc)
			if err != nil {
				return nil, fmt.Errorf("replica %s: %w", connect.Describe(rc), err)
			}
			replicaConns = append(replicaConns, c)
			var inRecovery bool
			if err := c.QueryRow(ctx, connect.Marker+"SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
				return nil, fmt.Errorf("replica %s: %w", connect.Describe(rc), err)
			}
			if !inRecovery {
				return nil, fmt.Errorf("replica %s is not in recovery: give a standby's DSN", connect.Describe(rc))
			}
		}
	}
	smp, err := loadSample(ctx, conns[0])
	if err != nil {
		return nil, err
	}

	st := &stats{byName: map[string]*StatementStat{}, keep: o.Latencies}
	var done sync.WaitGroup
	var progressMu sync.Mutex
	finished := 0
	began := time.Now()
	errc := make(chan error, o.Clients)
	for i, c := range conns {
		n := o.Actions / o.Clients
		if i < o.Actions%o.Clients {
			n++
		}
		s := &session{ctx: ctx, conn: c, q: c, rng: rand.New(rand.NewPCG(o.Seed, uint64(i))), smp: smp, stats: st, now: time.Now().UTC(), bindAll: o.BindAll}
		if len(replicaConns) > 0 {
			s.replica = replicaConns[i]
		}
		done.Add(1)
		go func() {
			defer done.Done()
			for k := 0; k < n; k++ {
				if err := s.runOne(); err != nil {
					errc <- err
					return
				}
				if o.Progress != nil {
					progressMu.Lock()
					finished++
					if finished%100 == 0 {
						o.Progress(finished)
					}
					progressMu.Unlock()
				}
			}
		}()
	}
	done.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	res := &RunResult{Actions: o.Actions, Clients: o.Clients, Duration: time.Since(began)}
	for _, s := range st.byName {
		if s.Calls > 0 {
			s.MeanMs = s.TotalMs / float64(s.Calls)
		}
		res.Statements = append(res.Statements, *s)
		res.Errors += s.Errors
	}
	sort.Slice(res.Statements, func(i, j int) bool {
		if res.Statements[i].Calls != res.Statements[j].Calls {
			return res.Statements[i].Calls > res.Statements[j].Calls
		}
		return res.Statements[i].Name < res.Statements[j].Name
	})
	res.FirstErrors = st.firstErrors
	res.Latencies = st.latencies
	return res, nil
}

type stats struct {
	mu          sync.Mutex
	byName      map[string]*StatementStat
	firstErrors []string
	keep        bool
	latencies   []time.Duration
}

func (st *stats) record(name string, d time.Duration, err error, onReplica bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byName[name]
	if !ok {
		s = &StatementStat{Name: name}
		st.byName[name] = s
	}
	s.Calls++
	if onReplica {
		s.ReplicaCalls++
	}
	s.TotalMs += float64(d.Microseconds()) / 1000
	if st.keep {
		st.latencies = append(st.latencies, d)
	}
	if err != nil {
		s.Errors++
		msg := name + ": " + err.Error()
		if len(st.firstErrors) < 5 && !slices.Contains(st.firstErrors, msg) {
			st.firstErrors = append(st.firstErrors, msg)
		}
	}
}

// querier is a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

type session struct {
	ctx  context.Context
	conn *pgx.Conn
	q    querier
	// replica is this client's read replica (nil without replicas); onReplica is set while an
	// action routed to it runs.
	replica   *pgx.Conn
	onReplica bool
	rng       *rand.Rand
	smp       *sample
	stats     *stats
	now       time.Time
	// bindAll: send the statements' bound forms.
	bindAll bool
}

// errStatement marks a statement error: counted, the action abandoned, the run goes on.
type errStatement struct{ err error }

func (e *errStatement) Error() string { return e.err.Error() }
func (e *errStatement) Unwrap() error { return e.err }

func (s *session) runOne() error {
	r := s.rng.IntN(totalWeight)
	for _, a := range actions {
		if r < a.Weight {
			if a.Route == onReplica && s.replica != nil {
				s.q, s.onReplica = s.replica, true
			}
			err := a.run(s)
			s.q, s.onReplica = s.conn, false
			var se *errStatement
			if err == nil || errors.As(err, &se) {
				return nil
			}
			return fmt.Errorf("action %s: %w", a.Name, err)
		}
		r -= a.Weight
	}
	return nil
}

// column runs a statement and returns the first column of its rows.
func (s *session) column(name string, args ...any) ([]any, error) {
	sql := StatementByName(name).SQL
	if s.bindAll {
		b := bound[name]
		sql, args = b.SQL, append(args, b.Args...)
	}
	t0 := time.Now()
	rows, err := s.q.Query(s.ctx, sql, args...)
	var out []any
	if err == nil {
		for rows.Next() {
			vals, verr := rows.Values()
			if verr != nil {
				err = verr
				break
			}
			if len(vals) > 0 {
				out = append(out, vals[0])
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	s.stats.record(name, time.Since(t0), err, s.onReplica)
	if err != nil {
		if s.ctx.Err() != nil || isConnectionLoss(err) {
			return nil, err
		}
		return nil, &errStatement{err}
	}
	return out, nil
}

// ids runs a statement whose first column is a bigint id.
func (s *session) ids(name string, args ...any) ([]int64, error) {
	vals, err := s.column(name, args...)
	ids := make([]int64, 0, len(vals))
	for _, v := range vals {
		if id, ok := v.(int64); ok {
			ids = append(ids, id)
		}
	}
	return ids, err
}

func (s *session) exec(name string, args ...any) error {
	_, err := s.column(name, args...)
	return err
}

func isConnectionLoss(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01"
	}
	return pgconn.SafeToRetry(err) || errors.Is(err, context.Canceled)
}

// tx runs fn in a transaction, rolling back when it fails.
func (s *session) tx(fn func() error) error {
	tx, err := s.conn.Begin(s.ctx)
	if err != nil {
		return err
	}
	s.q = tx
	defer func() { s.q = s.conn }()
	if err := fn(); err != nil {
		_ = tx.Rollback(s.ctx)
		return err
	}
	return tx.Commit(s.ctx)
}

func pickOne[T any](s *session, list []T) T { return list[s.rng.IntN(len(list))] }

// today is midnight UTC of the run; day(n) is n days later.
func (s *session) day(n int) time.Time { return s.now.Truncate(24*time.Hour).AddDate(0, 0, n) }

// ---- the actions ----

func viewSlots(s *session) error {
	b := pickOne(s, s.smp.barbers)
	d := s.day(s.rng.IntN(21))
	if err := s.exec("barber_availability", b.id, int16(d.Weekday()), d); err != nil {
		return err
	}
	if err := s.exec("barber_time_off", b.id, d, d.AddDate(0, 0, 1)); err != nil {
		return err
	}
	if err := s.exec("barber_booked_slots", b.id, d, d.AddDate(0, 0, 1)); err != nil {
		return err
	}
	return s.exec("barber_service_menu", b.id)
}

func barberDayView(s *session) error {
	b := pickOne(s, s.smp.barbers)
	d := s.day(s.rng.IntN(3) - 1)
	return s.exec("barber_day", b.id, d, d.AddDate(0, 0, 1))
}

func barberWeekView(s *session) error {
	b := pickOne(s, s.smp.barbers)
	d := s.day(-int(s.now.Weekday()) + 7*(s.rng.IntN(3)-1))
	if err := s.exec("barber_week", b.id, d, d.AddDate(0, 0, 7)); err != nil {
		return err
	}
	return s.exec("barber_day_count_by_date", b.id, s.day(0))
}

func frontDeskToday(s *session) error {
	l := pickOne(s, s.smp.locations)
	return s.exec("location_day_status", l.id, s.day(0), s.day(1))
}

func browseLocation(s *session) error {
	shop := pickOne(s, s.smp.shops)
	if err := s.exec("shop_by_slug", shop.slug); err != nil {
		return err
	}
	if err := s.exec("shop_locations", shop.id); err != nil {
		return err
	}
	l := pickOne(s, s.smp.locations)
	if err := s.exec("location_barbers", l.id); err != nil {
		return err
	}
	d := s.day(s.rng.IntN(14))
	return s.exec("location_day_load", l.id, d, d.AddDate(0, 0, 1))
}

func appointmentDetail(s *session) error {
	id := s.smp.minAppointment + s.rng.Int64N(s.smp.maxAppointment-s.smp.minAppointment+1)
	if err := s.exec("appointment_by_id", id); err != nil {
		return err
	}
	return s.exec("payments_for_appointment", id)
}

func clientProfile(s *session) error {
	return s.exec("client_history", pickOne(s, s.smp.clients).id)
}

func clientHome(s *session) error {
	return s.exec("client_upcoming", pickOne(s, s.smp.clients).id)
}

func (s *session) accountUser() int64 {
	for range 8 {
		if c := pickOne(s, s.smp.clients); c.user != 0 {
			return c.user
		}
	}
	return pickOne(s, s.smp.barbers).user // staff book too
}

func myBookings(s *session) error {
	u := s.accountUser()
	if err := s.exec("my_bookings_count", u); err != nil {
		return err
	}
	return s.exec("my_bookings_page", u, 10, 10*s.rng.IntN(2))
}

func myPastBookings(s *session) error {
	return s.exec("my_past_bookings_page", s.accountUser(), 10*s.rng.IntN(4))
}

func searchClientEmail(s *session) error {
	c := pickOne(s, s.smp.clients)
	email := c.email
	if email == "" || s.rng.IntN(10) == 0 {
		email = "nobody@example.com"
	}
	return s.exec("client_search_email", c.shop, email)
}

func searchClientName(s *session) error {
	c := pickOne(s, s.smp.clients)
	prefix := c.last[:min(len(c.last), 2+s.rng.IntN(3))]
	return s.exec("client_search_name", c.shop, prefix+"%")
}

func searchClientPhone(s *session) error {
	c := pickOne(s, s.smp.clients)
	digits := "0000"
	if len(c.phone) >= 4 {
		digits = c.phone[len(c.phone)-4:]
	}
	return s.exec("client_search_phone", c.shop, digits)
}

func noShowReport(s *session) error {
	return s.exec("client_no_shows", pickOne(s, s.smp.locations).id, s.day(-180))
}

func login(s *session) error {
	u := pickOne(s, s.smp.users)
	if err := s.exec("user_login", u.email); err != nil {
		return err
	}
	return s.exec("touch_last_login", u.id)
}

func stripeWebhook(s *session) error {
	id := pickOne(s, s.smp.stripeIDs)
	if err := s.exec("payment_by_stripe_id", id); err != nil {
		return err
	}
	status := "succeeded"
	if s.rng.IntN(50) == 0 {
		status = "failed"
	}
	return s.exec("payment_mark_from_webhook", id, status)
}

func payoutJob(s *session) error {
	b := pickOne(s, s.smp.barbers)
	end := s.day(-s.rng.IntN(180))
	return s.exec("payout_period_total", b.id, end.AddDate(0, 0, -14), end)
}

func payoutHistory(s *session) error {
	return s.exec("barber_payouts", pickOne(s, s.smp.barbers).id)
}

func revenueDashboard(s *session) error {
	l := pickOne(s, s.smp.locations)
	return s.exec("revenue_by_day", l.id, s.day(-30), s.day(0))
}

func revenueByBarber(s *session) error {
	shop := pickOne(s, s.smp.shops)
	return s.exec("revenue_by_barber", shop.id, s.day(-30), s.day(0))
}

func notificationPoll(s *session) error {
	return s.tx(func() error {
		ids, err := s.ids("notification_poller")
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.exec("notification_mark_sent", id); err != nil {
				return err
			}
		}
		return nil
	})
}

func retryFailed(s *session) error { return s.exec("notification_retry_failed") }

func reminderJob(s *session) error {
	from := s.now.Add(23 * time.Hour)
	return s.exec("reminder_window", from, from.Add(2*time.Hour))
}

func reviewsInbox(s *session) error {
	return s.exec("reviews_inbox", pickOne(s, s.smp.barbers).id)
}

func barberRating(s *session) error {
	return s.exec("barber_rating", pickOne(s, s.smp.barbers).id)
}

func book(s *session) error {
	b := pickOne(s, s.smp.barbers)
	svcs := s.smp.services[b.id]
	if len(svcs) == 0 {
		return nil
	}
	svc := pickOne(s, svcs)
	start := s.day(1 + s.rng.IntN(30)).Add(time.Duration(9*60+15*s.rng.IntN(36)) * time.Minute)
	end := start.Add(time.Duration(svc.minutes) * time.Minute)
	c := pickOne(s, s.smp.clientsOfShop(b.shop))
	bookedBy := c.user
	if bookedBy == 0 {
		bookedBy = b.user
	}
	return s.tx(func() error {
		taken, err := s.column("double_booking_check", b.id, start, end)
		if err != nil {
			return err
		}
		if len(taken) == 1 && taken[0] == true {
			return nil // the slot is gone; the client picks another
		}
		ids, err := s.ids("book_appointment", b.location, b.id, c.id, bookedBy, svc.id, start, svc.minutes, svc.price)
		if err != nil {
			return err
		}
		if len(ids) != 1 {
			return &errStatement{fmt.Errorf("book_appointment returned %d ids", len(ids))}
		}
		if err := s.exec("queue_notification", ids[0], c.id, "email", "confirmation", s.now, `{"template": "confirmation"}`); err != nil {
			return err
		}
		return s.exec("queue_notification", ids[0], c.id, "sms", "reminder_24h", start.Add(-24*time.Hour), `{"template": "reminder_24h"}`)
	})
}

func confirm(s *session) error {
	return s.exec("confirm_appointment", pickOne(s, s.smp.upcoming).id)
}

func reschedule(s *session) error {
	a := pickOne(s, s.smp.upcoming)
	start := a.start.Add(time.Duration(15*(s.rng.IntN(16)-8)) * time.Minute)
	return s.tx(func() error {
		if err := s.exec("double_booking_check", a.barber, start, start.Add(time.Duration(a.minutes)*time.Minute)); err != nil {
			return err
		}
		if err := s.exec("reschedule_appointment", a.id, start); err != nil {
			return err
		}
		return s.exec("reschedule_reminder", a.id, start.Add(-24*time.Hour))
	})
}

func cancel(s *session) error {
	a := pickOne(s, s.smp.upcoming)
	return s.tx(func() error {
		if err := s.exec("cancel_appointment", a.id); err != nil {
			return err
		}
		return s.exec("cancel_notifications", a.id)
	})
}

func checkout(s *session) error {
	a := pickOne(s, s.smp.upcoming)
	stripe := fmt.Sprintf("pi_w%015x%08x", s.rng.Uint64()>>4, s.rng.Uint32())
	return s.tx(func() error {
		if err := s.exec("complete_appointment", a.id); err != nil {
			return err
		}
		return s.exec("create_payment", a.id, a.barber, stripe, a.price, a.price*s.rng.IntN(3)*10/100)
	})
}

func newClient(s *session) error {
	shop := pickOne(s, s.smp.shops)
	first, last := pickOne(s, firstNames), pickOne(s, lastNames)
	email := fmt.Sprintf("walkin.%x@example.com", s.rng.Uint64())
	return s.exec("create_client", shop.id, first, last, email, fmt.Sprintf("+1-555-%03d-%04d", s.rng.IntN(1000), s.rng.IntN(10000)))
}

func leaveReview(s *session) error {
	a := pickOne(s, s.smp.completed)
	return s.exec("leave_review", a.id, a.barber, a.client, int16(3+s.rng.IntN(3)), pickOne(s, reviewBodies))
}

func replyReview(s *session) error {
	if len(s.smp.unreplied) == 0 {
		return nil
	}
	return s.exec("reply_review", pickOne(s, s.smp.unreplied), "Thanks, see you next time!")
}
