package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/connect"
)

// sample is what the driver knows of the data: real keys to put in the app's statements. It is
// read once, with pgtune's own (marked) queries, in a deterministic pseudo-random order so the
// same database and seed give the same run.
type sample struct {
	barbers   []sampleBarber
	locations []struct{ id, shop int64 }
	shops     []struct {
		id   int64
		slug string
	}
	clients []sampleClient
	byShop  map[int64][]sampleClient
	users   []struct {
		id    int64
		email string
	}
	services                       map[int64][]sampleService
	stripeIDs                      []string
	upcoming                       []sampleAppointment
	completed                      []sampleAppointment
	unreplied                      []int64
	minAppointment, maxAppointment int64
}

type sampleBarber struct{ id, location, shop, user int64 }

type sampleClient struct {
	id, shop, user     int64
	email, last, phone string
}

type sampleService struct {
	id             int64
	minutes, price int
}

type sampleAppointment struct {
	id, barber, client int64
	start              time.Time
	minutes, price     int
}

// shuffle orders rows by a fixed scramble of their id: a spread-out, repeatable sample.
const shuffle = " ORDER BY (id * 2654435761) % 1000003, id LIMIT "

func (smp *sample) clientsOfShop(shop int64) []sampleClient {
	if cs := smp.byShop[shop]; len(cs) > 0 {
		return cs
	}
	return smp.clients
}

func loadSample(ctx context.Context, conn *pgx.Conn) (*sample, error) {
	smp := &sample{byShop: map[int64][]sampleClient{}, services: map[int64][]sampleService{}}
	q := func(what, sql string, scan func(pgx.Rows) error, args ...any) error {
		rows, err := conn.Query(ctx, connect.Marker+sql, args...)
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("read %s: %w", what, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		return nil
	}
	var exists bool
	if err := conn.QueryRow(ctx, connect.Marker+"SELECT to_regclass('appointments') IS NOT NULL AND to_regclass('barbers') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("look for the booking tables: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("%w: no appointments table; load it first with 'pgtune demo load'", ErrNoData)
	}
	steps := []error{
		q("barbers", "SELECT b.id, b.location_id, l.shop_id, b.user_id FROM barbers b JOIN locations l ON l.id = b.location_id WHERE b.active ORDER BY b.id", func(r pgx.Rows) error {
			var b sampleBarber
			err := r.Scan(&b.id, &b.location, &b.shop, &b.user)
			smp.barbers = append(smp.barbers, b)
			return err
		}),
		q("locations", "SELECT id, shop_id FROM locations ORDER BY id", func(r pgx.Rows) error {
			var l struct{ id, shop int64 }
			err := r.Scan(&l.id, &l.shop)
			smp.locations = append(smp.locations, l)
			return err
		}),
		q("shops", "SELECT id, slug FROM shops ORDER BY id", func(r pgx.Rows) error {
			var s struct {
				id   int64
				slug string
			}
			err := r.Scan(&s.id, &s.slug)
			smp.shops = append(smp.shops, s)
			return err
		}),
		q("clients", "SELECT id, shop_id, coalesce(user_id, 0), coalesce(email, ''), last_name, coalesce(phone, '') FROM clients"+shuffle+"4000", func(r pgx.Rows) error {
			var c sampleClient
			err := r.Scan(&c.id, &c.shop, &c.user, &c.email, &c.last, &c.phone)
			smp.clients = append(smp.clients, c)
			smp.byShop[c.shop] = append(smp.byShop[c.shop], c)
			return err
		}),
		q("users", "SELECT id, email FROM users"+shuffle+"2000", func(r pgx.Rows) error {
			var u struct {
				id    int64
				email string
			}
			err := r.Scan(&u.id, &u.email)
			smp.users = append(smp.users, u)
			return err
		}),
		q("services", `SELECT bs.barber_id, s.id, coalesce(bs.duration_minutes, s.duration_minutes), coalesce(bs.price_cents, s.price_cents)
			FROM barber_services bs JOIN services s ON s.id = bs.service_id WHERE s.active ORDER BY 1, 2`, func(r pgx.Rows) error {
			var b int64
			var s sampleService
			err := r.Scan(&b, &s.id, &s.minutes, &s.price)
			smp.services[b] = append(smp.services[b], s)
			return err
		}),
		q("payments", "SELECT stripe_payment_intent_id FROM payments ORDER BY id DESC LIMIT 2000", func(r pgx.Rows) error {
			var s string
			err := r.Scan(&s)
			smp.stripeIDs = append(smp.stripeIDs, s)
			return err
		}),
		q("upcoming appointments", "SELECT id, barber_id, client_id, start_time, duration_minutes, price_cents FROM appointments WHERE start_time >= now() AND status IN ('pending', 'confirmed')"+shuffle+"3000", func(r pgx.Rows) error {
			var a sampleAppointment
			err := r.Scan(&a.id, &a.barber, &a.client, &a.start, &a.minutes, &a.price)
			smp.upcoming = append(smp.upcoming, a)
			return err
		}),
		q("completed appointments", "SELECT id, barber_id, client_id, start_time, duration_minutes, price_cents FROM appointments WHERE status = 'completed' AND start_time >= now() - interval '60 days'"+shuffle+"3000", func(r pgx.Rows) error {
			var a sampleAppointment
			err := r.Scan(&a.id, &a.barber, &a.client, &a.start, &a.minutes, &a.price)
			smp.completed = append(smp.completed, a)
			return err
		}),
		q("unreplied reviews", "SELECT id FROM reviews WHERE replied_at IS NULL"+shuffle+"1000", func(r pgx.Rows) error {
			var id int64
			err := r.Scan(&id)
			smp.unreplied = append(smp.unreplied, id)
			return err
		}),
		func() error {
			err := conn.QueryRow(ctx, connect.Marker+"SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM appointments").Scan(&smp.minAppointment, &smp.maxAppointment)
			if err != nil {
				return fmt.Errorf("read appointment ids: %w", err)
			}
			return nil
		}(),
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	switch {
	case len(smp.barbers) == 0 || len(smp.clients) == 0 || len(smp.shops) == 0:
		return nil, fmt.Errorf("%w: no barbers, clients or shops; load it with 'pgtune demo load'", ErrNoData)
	case len(smp.upcoming) == 0 || len(smp.completed) == 0 || len(smp.stripeIDs) == 0:
		return nil, fmt.Errorf("%w: no upcoming or recently completed appointments (the data is older than two months?); reload it with 'pgtune demo load --replace'", ErrNoData)
	}
	return smp, nil
}
