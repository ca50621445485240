package booking

import (
	"cmp"
	"slices"
)

// Statement is one parameterised statement of the booking app, written the way the app (an ORM
// plus a few hand-written queries) sends it. None is tuned: finding what they need is pgtune's job.
type Statement struct {
	Name string `json:"name"`
	// Purpose says which screen or job sends it.
	Purpose string `json:"purpose"`
	SQL     string `json:"sql"`
}

// Statements is the app's statement catalogue. The driver runs them through Actions.
var Statements = []Statement{
	// --- booking flow: availability and slots ---
	{"barber_availability", "slot picker: a barber's working hours on a weekday",
		`SELECT start_time, end_time FROM barber_availability
WHERE barber_id = $1 AND weekday = $2 AND valid_from <= $3 AND (valid_until IS NULL OR valid_until >= $3)`},
	{"barber_time_off", "slot picker: is the barber off that day",
		`SELECT starts_at, ends_at FROM time_off WHERE barber_id = $1 AND starts_at < $3 AND ends_at > $2`},
	{"barber_booked_slots", "slot picker: the barber's taken slots that day",
		`SELECT start_time, duration_minutes FROM appointments
WHERE barber_id = $1 AND start_time >= $2 AND start_time < $3 AND status IN ('pending', 'confirmed')
ORDER BY start_time`},
	{"location_barbers", "booking page: barbers at a location",
		`SELECT id, display_name, bio FROM barbers WHERE location_id = $1 AND active ORDER BY display_name`},
	{"barber_service_menu", "booking page: what a barber offers, at what price",
		`SELECT s.id, s.name, coalesce(bs.duration_minutes, s.duration_minutes) AS minutes,
       coalesce(bs.price_cents, s.price_cents) AS price_cents
FROM barber_services bs JOIN services s ON s.id = bs.service_id
WHERE bs.barber_id = $1 AND s.active ORDER BY s.name`},
	{"location_day_load", "booking page: how busy each barber at a location is on a day",
		`SELECT b.id, count(a.id) AS booked
FROM barbers b LEFT JOIN appointments a
  ON a.barber_id = b.id AND a.start_time >= $2 AND a.start_time < $3 AND a.status <> 'cancelled'
WHERE b.location_id = $1 AND b.active GROUP BY b.id`},
	{"double_booking_check", "booking: refuse a slot that overlaps another appointment",
		`SELECT EXISTS (
  SELECT 1 FROM appointments
  WHERE barber_id = $1 AND status IN ('pending', 'confirmed')
    AND start_time < $3 AND start_time + make_interval(mins => duration_minutes) > $2)`},
	{"shop_by_slug", "public shop page",
		`SELECT id, name, timezone FROM shops WHERE slug = $1`},
	{"shop_locations", "public shop page: its locations",
		`SELECT id, name, address, city, opens_at, closes_at FROM locations WHERE shop_id = $1 ORDER BY name`},

	// --- calendars ---
	{"barber_day", "barber app: the day view",
		`SELECT a.id, a.start_time, a.duration_minutes, a.status, a.notes, c.first_name, c.last_name, c.phone, s.name AS service
FROM appointments a
JOIN clients c ON c.id = a.client_id
JOIN services s ON s.id = a.service_id
WHERE a.barber_id = $1 AND a.start_time >= $2 AND a.start_time < $3 AND a.status <> 'cancelled'
ORDER BY a.start_time`},
	{"barber_week", "barber app: the week strip (appointments per day)",
		`SELECT date_trunc('day', start_time) AS day, count(*) AS appointments, sum(duration_minutes) AS minutes
FROM appointments
WHERE barber_id = $1 AND start_time >= $2 AND start_time < $3 AND status <> 'cancelled'
GROUP BY 1 ORDER BY 1`},
	{"barber_day_count_by_date", "barber app: badge with today's count",
		`SELECT count(*) FROM appointments WHERE barber_id = $1 AND date(start_time) = $2 AND status <> 'cancelled'`},
	{"location_day_status", "front desk: today's appointments by status",
		`SELECT status, count(*) FROM appointments
WHERE location_id = $1 AND start_time >= $2 AND start_time < $3 GROUP BY status`},
	{"appointment_by_id", "appointment detail",
		`SELECT id, location_id, barber_id, client_id, service_id, start_time, duration_minutes, status, price_cents, notes
FROM appointments WHERE id = $1`},

	// --- clients ---
	{"client_history", "client profile: past visits",
		`SELECT a.id, a.start_time, a.status, s.name, a.price_cents
FROM appointments a JOIN services s ON s.id = a.service_id
WHERE a.client_id = $1 ORDER BY a.start_time DESC LIMIT 20`},
	{"client_upcoming", "client app home: next appointments",
		`SELECT id, start_time, barber_id, service_id, status FROM appointments
WHERE client_id = $1 AND start_time >= now() AND status IN ('pending', 'confirmed')
ORDER BY start_time LIMIT 5`},
	{"my_bookings_page", "client app: 'my bookings', upcoming, paged",
		`SELECT id, start_time, status, barber_id, service_id, price_cents FROM appointments
WHERE booked_by_user_id = $1 AND start_time >= now()
ORDER BY start_time LIMIT $2 OFFSET $3`},
	{"my_bookings_count", "client app: 'my bookings' total for the pager",
		`SELECT count(*) FROM appointments WHERE booked_by_user_id = $1 AND start_time >= now()`},
	{"my_past_bookings_page", "client app: 'my bookings', past, paged",
		`SELECT id, start_time, status, barber_id, price_cents FROM appointments
WHERE booked_by_user_id = $1 AND start_time < now()
ORDER BY start_time DESC LIMIT 10 OFFSET $2`},
	{"client_search_email", "front desk: find a client by e-mail",
		`SELECT id, first_name, last_name, email, phone FROM clients WHERE shop_id = $1 AND lower(email) = lower($2)`},
	{"client_search_name", "front desk: find a client by last-name prefix",
		`SELECT id, first_name, last_name, email, phone FROM clients
WHERE shop_id = $1 AND last_name ILIKE $2 ORDER BY last_name, first_name LIMIT 20`},
	{"client_search_phone", "front desk: find a client by the last digits of a phone number",
		`SELECT id, first_name, last_name, phone FROM clients WHERE shop_id = $1 AND phone LIKE '%' || $2 LIMIT 20`},
	{"client_no_shows", "front desk: clients who keep not showing up",
		`SELECT client_id, count(*) AS no_shows FROM appointments
WHERE location_id = $1 AND status = 'no_show' AND start_time >= $2
GROUP BY client_id HAVING count(*) >= 2 ORDER BY no_shows DESC`},
	{"user_login", "sign-in",
		`SELECT id, password_hash, role FROM users WHERE email = $1`},

	// --- payments and payouts ---
	{"payment_by_stripe_id", "Stripe webhook: find the payment",
		`SELECT id, appointment_id, status, amount_cents FROM payments WHERE stripe_payment_intent_id = $1`},
	{"payment_mark_from_webhook", "Stripe webhook: record the outcome",
		`UPDATE payments SET status = $2, paid_at = CASE WHEN $2 = 'succeeded' THEN now() ELSE paid_at END
WHERE stripe_payment_intent_id = $1`},
	{"payments_for_appointment", "appointment detail: its payments",
		`SELECT id, status, amount_cents, tip_cents, paid_at FROM payments WHERE appointment_id = $1`},
	{"payout_period_total", "payout job: a barber's takings in a period",
		`SELECT count(*), coalesce(sum(amount_cents + tip_cents), 0) FROM payments
WHERE barber_id = $1 AND status = 'succeeded' AND paid_at >= $2 AND paid_at < $3`},
	{"barber_payouts", "barber app: payout history",
		`SELECT id, period_start, period_end, amount_cents, status, paid_at FROM payouts
WHERE barber_id = $1 ORDER BY period_start DESC LIMIT 12`},
	{"revenue_by_day", "owner dashboard: revenue per day at a location",
		`SELECT date_trunc('day', a.start_time) AS day, sum(p.amount_cents) AS revenue, sum(p.tip_cents) AS tips
FROM payments p JOIN appointments a ON a.id = p.appointment_id
WHERE a.location_id = $1 AND p.status = 'succeeded' AND a.start_time >= $2 AND a.start_time < $3
GROUP BY 1 ORDER BY 1`},
	{"revenue_by_barber", "owner dashboard: revenue per barber across a shop",
		`SELECT b.id, b.display_name, count(*) AS paid, sum(p.amount_cents + p.tip_cents) AS revenue
FROM payments p
JOIN barbers b ON b.id = p.barber_id
JOIN locations l ON l.id = b.location_id
WHERE l.shop_id = $1 AND p.status = 'succeeded' AND p.paid_at >= $2 AND p.paid_at < $3
GROUP BY b.id, b.display_name ORDER BY revenue DESC`},

	// --- notifications ---
	{"notification_poller", "notification worker: claim due messages",
		`SELECT id, client_id, channel, kind, payload FROM notifications
WHERE status = 'pending' AND scheduled_for <= now()
ORDER BY scheduled_for LIMIT 50 FOR UPDATE SKIP LOCKED`},
	{"notification_mark_sent", "notification worker: record a delivery",
		`UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1 WHERE id = $1`},
	{"notification_retry_failed", "notification worker: failed messages to retry",
		`SELECT id, channel, attempts FROM notifications WHERE status = 'failed' AND attempts < 5 ORDER BY created_at LIMIT 20`},
	{"reminder_window", "reminder job: confirmed appointments in the next window without a reminder",
		`SELECT a.id, a.client_id, a.start_time FROM appointments a
WHERE a.status = 'confirmed' AND a.start_time BETWEEN $1 AND $2
  AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.appointment_id = a.id AND n.kind = 'reminder_24h')`},

	// --- reviews ---
	{"reviews_inbox", "barber app: reviews awaiting a reply",
		`SELECT r.id, r.rating, r.body, r.created_at, c.first_name
FROM reviews r JOIN clients c ON c.id = r.client_id
WHERE r.barber_id = $1 AND r.replied_at IS NULL ORDER BY r.created_at DESC LIMIT 20`},
	{"barber_rating", "public barber page: rating",
		`SELECT avg(rating)::numeric(3,2), count(*) FROM reviews WHERE barber_id = $1`},

	// --- writes ---
	{"book_appointment", "booking: create the appointment",
		`INSERT INTO appointments (location_id, barber_id, client_id, booked_by_user_id, service_id, start_time, duration_minutes, status, price_cents)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) RETURNING id`},
	{"queue_notification", "booking, rescheduling: queue a message",
		`INSERT INTO notifications (appointment_id, client_id, channel, kind, scheduled_for, payload)
VALUES ($1, $2, $3, $4, $5, $6)`},
	{"confirm_appointment", "barber app: confirm a pending booking",
		`UPDATE appointments SET status = 'confirmed', updated_at = now() WHERE id = $1 AND status = 'pending'`},
	{"reschedule_appointment", "client app: move a booking",
		`UPDATE appointments SET start_time = $2, updated_at = now() WHERE id = $1 AND status IN ('pending', 'confirmed')`},
	{"reschedule_reminder", "client app: move the booking's pending reminder",
		`UPDATE notifications SET scheduled_for = $2
WHERE appointment_id = $1 AND kind = 'reminder_24h' AND status = 'pending'`},
	{"cancel_appointment", "client app: cancel a booking",
		`UPDATE appointments SET status = 'cancelled', cancelled_at = now(), updated_at = now()
WHERE id = $1 AND status IN ('pending', 'confirmed')`},
	{"cancel_notifications", "client app: cancel the booking's pending messages",
		`UPDATE notifications SET status = 'cancelled' WHERE appointment_id = $1 AND status = 'pending'`},
	{"complete_appointment", "checkout: mark the appointment done",
		`UPDATE appointments SET status = 'completed', updated_at = now() WHERE id = $1`},
	{"create_payment", "checkout: record the payment intent",
		`INSERT INTO payments (appointment_id, barber_id, stripe_payment_intent_id, status, amount_cents, tip_cents)
VALUES ($1, $2, $3, 'requires_payment', $4, $5) RETURNING id`},
	{"create_client", "front desk: new walk-in client",
		`INSERT INTO clients (shop_id, first_name, last_name, email, phone) VALUES ($1, $2, $3, $4, $5) RETURNING id`},
	{"leave_review", "client app: rate a visit",
		`INSERT INTO reviews (appointment_id, barber_id, client_id, rating, body) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (appointment_id) DO NOTHING`},
	{"reply_review", "barber app: reply to a review",
		`UPDATE reviews SET reply = $2, replied_at = now() WHERE id = $1`},
	{"touch_last_login", "sign-in: remember the visit",
		`UPDATE users SET last_login_at = now() WHERE id = $1`},
}

// StatementByName returns the named statement; it panics on an unknown name (a programming error
// caught by the tests).
func StatementByName(name string) Statement {
	for _, s := range Statements {
		if s.Name == name {
			return s
		}
	}
	panic("booking: unknown statement " + name)
}

// Action is one user-visible operation of the app: a screen load, a job tick or a write, made of
// one or more statements. Its Weight is how often it happens relative to the others.
type Action struct {
	Name   string
	Weight int
	// Uses lists the statements the action runs, once per entry (an entry may repeat).
	Uses []string
	run  func(s *session) error
	// Route is where the app sends it when it has read replicas.
	Route Route
}

// Route is the node an action runs on when the app has read replicas (RunOptions.Replicas), as
// the application splits its traffic: writes, jobs and reads of what the user just wrote
// (read-your-writes: their upcoming bookings, an appointment's detail) on the primary; the
// dashboards, calendars, searches and reports, which tolerate a replica's lag, on a replica.
type Route int

const (
	onPrimary Route = iota
	onReplica
)

// Frequency is a statement's expected share of the mix.
type Frequency struct {
	Statement
	// PerThousand is the expected number of calls per 1,000 actions.
	PerThousand float64 `json:"calls_per_1000_actions"`
}

// Mix returns every statement with its expected calls per 1,000 actions, most frequent first.
func Mix() []Frequency {
	calls := map[string]float64{}
	for _, a := range actions {
		for _, u := range a.Uses {
			calls[u] += float64(a.Weight) * 1000 / float64(totalWeight)
		}
	}
	out := make([]Frequency, 0, len(Statements))
	for _, s := range Statements {
		out = append(out, Frequency{Statement: s, PerThousand: calls[s.Name]})
	}
	slices.SortStableFunc(out, func(a, b Frequency) int { return cmp.Compare(b.PerThousand, a.PerThousand) })
	return out
}
