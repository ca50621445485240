package booking

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Options choose the generated data. The same options always give the same rows.
type Options struct {
	// Scale is the scale factor: 1 ≈ 100,000 appointments. Must be > 0.
	Scale float64
	// Seed varies the data without changing its shape.
	Seed uint64
	// Reference is the generated history's "now", truncated to midnight UTC: 365 days of past
	// appointments before it and 42 days of future bookings after it. Zero means today, so the
	// app's "upcoming" and "today" queries find rows when the workload runs.
	Reference time.Time
}

// Shape constants: what one unit of scale holds, and the time window.
const (
	barbersPerScale   = 60
	clientsPerScale   = 20000
	barbersPerLoc     = 4
	locationsPerShop  = 3
	servicesPerShop   = 8
	historyDays       = 365
	futureDays        = 42
	dayOpensMinutes   = 9 * 60
	dayClosesMinutes  = 19 * 60
	payoutPeriodDays  = 14
	accountSharePct   = 60 // clients with an app account
	reviewSharePct    = 30 // completed appointments that get a review
	minimumClients    = 40
	minimumBarberRows = 2
)

// Plan is the generated database's size, derived from Options.
type Plan struct {
	Options
	Shops, Locations, Barbers, Clients int
	// ClientUser maps a client id to its user id (0 when the client has no account); index 0 unused.
	ClientUser []int64
	// Users is the number of users: shop owners, then barbers, then client accounts.
	Users int
}

// NewPlan sizes the database for o. It validates the options.
func NewPlan(o Options) (*Plan, error) {
	if !(o.Scale > 0) || o.Scale > 10000 || math.IsInf(o.Scale, 0) {
		return nil, fmt.Errorf("scale factor %v out of range (want a number above 0, at most 10000)", o.Scale)
	}
	if o.Reference.IsZero() {
		o.Reference = time.Now()
	}
	o.Reference = o.Reference.UTC().Truncate(24 * time.Hour)
	p := &Plan{Options: o}
	p.Barbers = max(minimumBarberRows, int(math.Round(barbersPerScale*o.Scale)))
	p.Locations = (p.Barbers + barbersPerLoc - 1) / barbersPerLoc
	p.Shops = (p.Locations + locationsPerShop - 1) / locationsPerShop
	p.Clients = max(minimumClients, int(math.Round(clientsPerScale*o.Scale)))
	p.ClientUser = make([]int64, p.Clients+1)
	next := int64(p.Shops + p.Barbers)
	for c := 1; c <= p.Clients; c++ {
		if p.hash("account", int64(c))%100 < accountSharePct {
			next++
			p.ClientUser[c] = next
		}
	}
	p.Users = int(next)
	return p, nil
}

// hash is a stateless, seeded 64-bit mix of a label and numbers (splitmix64 finaliser): every
// per-row decision that does not follow from a sequence is hash(seed, what, id), so tables can be
// generated independently and in any order.
func (p *Plan) hash(label string, xs ...int64) uint64 {
	h := p.Seed ^ 0x9e3779b97f4a7c15
	for i := 0; i < len(label); i++ {
		h = mix(h ^ uint64(label[i]))
	}
	for _, x := range xs {
		h = mix(h ^ uint64(x))
	}
	return h
}

func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// unit returns hash as a float in [0, 1).
func (p *Plan) unit(label string, xs ...int64) float64 {
	return float64(p.hash(label, xs...)>>11) / (1 << 53)
}

func pick[T any](p *Plan, list []T, label string, xs ...int64) T {
	return list[p.hash(label, xs...)%uint64(len(list))]
}

// Ids: shop owners are users 1..Shops, barber b is user Shops+b.
func (p *Plan) ownerUser(shop int) int64    { return int64(shop) }
func (p *Plan) barberUser(barber int) int64 { return int64(p.Shops + barber) }
func (p *Plan) locationOf(barber int) int   { return (barber-1)/barbersPerLoc + 1 }
func (p *Plan) shopOfLocation(loc int) int  { return (loc-1)/locationsPerShop + 1 }
func (p *Plan) shopOfClient(client int) int { return (client-1)%p.Shops + 1 }
func (p *Plan) clientsOfShop(shop int) int {
	n := p.Clients / p.Shops
	if shop <= p.Clients%p.Shops {
		n++
	}
	return n
}

var (
	firstNames = []string{"James", "Mia", "Liam", "Olivia", "Noah", "Emma", "Lucas", "Ava", "Mateo", "Sofia",
		"Ethan", "Amara", "Leo", "Chloe", "Omar", "Zara", "Diego", "Hana", "Kwame", "Ines", "Marcus", "Priya",
		"Tomás", "Aisha", "Jonah", "Yuki", "Andre", "Lena", "Malik", "Rosa", "Felix", "Nadia"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez",
		"Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
		"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
		"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
		"Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Okafor", "Kowalski"}
	cities    = []string{"Austin", "Denver", "Portland", "Chicago", "Atlanta", "Seattle", "Boston", "Phoenix", "Miami", "Detroit"}
	shopWords = []string{"Fade", "Blade", "Crown", "Sharp", "Gentry", "Union", "Corner", "Classic", "Steel", "Golden"}
	timezones = []string{"America/Chicago", "America/Denver", "America/Los_Angeles", "America/New_York"}
	streets   = []string{"Main St", "Oak Ave", "Elm St", "2nd Ave", "Market St", "Park Blvd", "Lake Dr", "Pine St"}
	services  = []struct {
		name     string
		minutes  int
		cents    int
		weight   int // how often clients book it
		category string
	}{
		{"Haircut", 30, 3500, 40, "hair"},
		{"Skin fade", 45, 4500, 20, "hair"},
		{"Beard trim", 20, 2000, 12, "beard"},
		{"Haircut & beard", 60, 5500, 12, "hair"},
		{"Hot towel shave", 30, 4000, 5, "beard"},
		{"Kids cut", 30, 2500, 6, "hair"},
		{"Buzz cut", 20, 2000, 4, "hair"},
		{"Colour", 60, 7500, 1, "hair"},
	}
	reviewBodies = []string{"Great cut, as always.", "Quick and friendly.", "Best fade in town!",
		"Ran a bit late but worth the wait.", "Not what I asked for.", "Super clean shop, will be back.",
		"Beard looks sharp.", "Booked last minute and still got in."}
	appointmentNotes = []string{"Prefers scissors over clippers", "Running 5 minutes late", "First visit",
		"Allergic to some products", "Wants the same as last time"}
)

// ---- rows ----

// Row sources yield one table's rows in id order as COPY values.
type rowSource struct {
	table   string
	columns []string
	rows    func(p *Plan) iter.Seq[[]any]
}

func (p *Plan) day(d int) time.Time { return p.Reference.AddDate(0, 0, d-historyDays) }

func passwordHash(p *Plan, user int64) string {
	return fmt.Sprintf("$2a$10$%016x%016x%021x", p.hash("pw1", user), p.hash("pw2", user), p.hash("pw3", user)>>20)
}

func (p *Plan) clientName(c int) (first, last string) {
	return pick(p, firstNames, "first", int64(c)), pick(p, lastNames, "last", int64(c))
}

// clientEmail is unique per client; one in five is stored with the capitals the client typed,
// which is why the app searches with lower(email).
func (p *Plan) clientEmail(c int) string {
	first, last := p.clientName(c)
	e := fmt.Sprintf("%s.%s%d@example.com", first, last, c)
	if p.hash("emailcase", int64(c))%5 != 0 {
		e = strings.ToLower(e)
	}
	return e
}

func (p *Plan) clientPhone(c int) string {
	h := p.hash("phone", int64(c))
	return fmt.Sprintf("+1-555-%03d-%04d", h%1000, (h>>16)%10000)
}

var sources = []rowSource{
	{"users", []string{"id", "email", "password_hash", "full_name", "phone", "role", "created_at", "last_login_at"}, userRows},
	{"shops", []string{"id", "owner_id", "name", "slug", "timezone", "created_at"}, shopRows},
	{"locations", []string{"id", "shop_id", "name", "address", "city", "postal_code", "opens_at", "closes_at", "created_at"}, locationRows},
	{"barbers", []string{"id", "user_id", "location_id", "display_name", "bio", "commission_pct", "active", "hired_at"}, barberRows},
	{"clients", []string{"id", "shop_id", "user_id", "first_name", "last_name", "email", "phone", "notes", "marketing_opt_in", "created_at"}, clientRows},
	{"services", []string{"id", "shop_id", "name", "duration_minutes", "price_cents", "active"}, serviceRows},
	{"barber_services", []string{"barber_id", "service_id", "price_cents", "duration_minutes"}, barberServiceRows},
	{"barber_availability", []string{"id", "barber_id", "weekday", "start_time", "end_time", "valid_from", "valid_until"}, availabilityRows},
	{"time_off", []string{"id", "barber_id", "starts_at", "ends_at", "reason"}, timeOffRows},
	{"appointments", []string{"id", "location_id", "barber_id", "client_id", "booked_by_user_id", "service_id", "start_time", "duration_minutes", "status", "price_cents", "notes", "created_at", "updated_at", "cancelled_at"}, appointmentRows},
	{"payments", []string{"id", "appointment_id", "barber_id", "stripe_payment_intent_id", "status", "amount_cents", "tip_cents", "currency", "created_at", "paid_at"}, paymentRows},
	{"payouts", []string{"id", "barber_id", "period_start", "period_end", "amount_cents", "status", "stripe_transfer_id", "created_at", "paid_at"}, payoutRows},
	{"notifications", []string{"id", "appointment_id", "client_id", "channel", "kind", "status", "scheduled_for", "sent_at", "attempts", "payload", "created_at"}, notificationRows},
	{"reviews", []string{"id", "appointment_id", "barber_id", "client_id", "rating", "body", "reply", "replied_at", "created_at"}, reviewRows},
}

func userRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		start := p.Reference.AddDate(-3, 0, 0)
		for id := int64(1); id <= int64(p.Users); id++ {
			var email, name, role string
			var phone any
			switch {
			case id <= int64(p.Shops):
				role, name = "owner", fmt.Sprintf("Owner %d", id)
				email = fmt.Sprintf("owner%d@shops.example.com", id)
			case id <= int64(p.Shops+p.Barbers):
				b := id - int64(p.Shops)
				role, name = "barber", pick(p, firstNames, "bfirst", b)+" "+pick(p, lastNames, "blast", b)
				email = fmt.Sprintf("barber%d@shops.example.com", b)
			default:
				role = "client"
			}
			created := start.Add(time.Duration(p.unit("ucreated", id) * float64(3*365*24*time.Hour)))
			var lastLogin any
			if p.hash("login", id)%4 != 0 {
				lastLogin = p.Reference.Add(-time.Duration(p.unit("ulogin", id) * float64(90*24*time.Hour)))
			}
			if role == "client" {
				continue // emitted below, in client order, so ids stay dense
			}
			if !yield([]any{id, email, passwordHash(p, id), name, phone, role, created, lastLogin}) {
				return
			}
		}
		for c := 1; c <= p.Clients; c++ {
			id := p.ClientUser[c]
			if id == 0 {
				continue
			}
			first, last := p.clientName(c)
			created := p.Reference.Add(-time.Duration(p.unit("ccreated", int64(c)) * float64(800*24*time.Hour)))
			var lastLogin any
			if p.hash("login", id)%4 != 0 {
				lastLogin = p.Reference.Add(-time.Duration(p.unit("ulogin", id) * float64(90*24*time.Hour)))
			}
			if !yield([]any{id, p.clientEmail(c), passwordHash(p, id), first + " " + last, p.clientPhone(c), "client", created, lastLogin}) {
				return
			}
		}
	}
}

func shopRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		for s := 1; s <= p.Shops; s++ {
			name := fmt.Sprintf("%s Barbers %d", pick(p, shopWords, "shopword", int64(s)), s)
			slug := strings.ToLower(strings.ReplaceAll(name, " ", "-"))
			created := p.Reference.AddDate(-3, 0, s)
			if !yield([]any{int64(s), p.ownerUser(s), name, slug, pick(p, timezones, "tz", int64(s)), created}) {
				return
			}
		}
	}
}

func locationRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		for l := 1; l <= p.Locations; l++ {
			city := pick(p, cities, "city", int64(l))
			h := p.hash("addr", int64(l))
			opens, closes := clock(9, 0), clock(19, 0)
			if h%3 == 0 {
				opens, closes = clock(10, 0), clock(20, 0)
			}
			row := []any{int64(l), int64(p.shopOfLocation(l)), fmt.Sprintf("%s #%d", city, l),
				fmt.Sprintf("%d %s", 100+h%900, pick(p, streets, "street", int64(l))), city,
				fmt.Sprintf("%05d", 10000+(h>>12)%89999), opens, closes, p.Reference.AddDate(-3, 0, l)}
			if !yield(row) {
				return
			}
		}
	}
}

func barberRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		for b := 1; b <= p.Barbers; b++ {
			name := pick(p, firstNames, "bfirst", int64(b)) + " " + string(pick(p, lastNames, "blast", int64(b))[0]) + "."
			active := p.hash("active", int64(b))%20 != 0
			hired := p.Reference.AddDate(-1, 0, -int(p.hash("hired", int64(b))%900))
			var bio any
			if p.hash("bio", int64(b))%2 == 0 {
				bio = "Specialises in fades and beard work."
			}
			if !yield([]any{int64(b), p.barberUser(b), int64(p.locationOf(b)), name, bio, 40 + float64(p.hash("comm", int64(b))%21), active, hired}) {
				return
			}
		}
	}
}

func clientRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		for c := 1; c <= p.Clients; c++ {
			first, last := p.clientName(c)
			var user, email, phone, notes any
			if u := p.ClientUser[c]; u != 0 {
				user = u
			}
			if p.hash("hasemail", int64(c))%10 != 0 {
				email = p.clientEmail(c)
			}
			if p.hash("hasphone", int64(c))%20 != 0 {
				phone = p.clientPhone(c)
			}
			if p.hash("cnotes", int64(c))%25 == 0 {
				notes = pick(p, appointmentNotes, "cnote", int64(c))
			}
			created := p.Reference.Add(-time.Duration(p.unit("ccreated", int64(c)) * float64(800*24*time.Hour)))
			if !yield([]any{int64(c), int64(p.shopOfClient(c)), user, first, last, email, phone, notes, p.hash("optin", int64(c))%10 < 4, created}) {
				return
			}
		}
	}
}

func serviceRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		for s := 1; s <= p.Shops; s++ {
			for k, svc := range services {
				id := int64((s-1)*servicesPerShop + k + 1)
				active := !(k == len(services)-1 && s%2 == 0) // half the shops retired colour
				if !yield([]any{id, int64(s), svc.name, svc.minutes, svc.cents, active}) {
					return
				}
			}
		}
	}
}

// offers reports whether barber b offers the shop's k-th service: five of the eight.
func offers(b, k int) bool {
	return k != (b+1)%servicesPerShop && k != (b+4)%servicesPerShop && k != (b+6)%servicesPerShop
}

func (p *Plan) serviceID(barber, k int) int64 {
	shop := p.shopOfLocation(p.locationOf(barber))
	return int64((shop-1)*servicesPerShop + k + 1)
}

func barberServiceRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		for b := 1; b <= p.Barbers; b++ {
			for k := range services {
				if !offers(b, k) {
					continue
				}
				var price, minutes any
				if p.hash("override", int64(b), int64(k))%4 == 0 {
					price = services[k].cents + 500
				}
				if !yield([]any{int64(b), p.serviceID(b, k), price, minutes}) {
					return
				}
			}
		}
	}
}

// worksOn reports whether barber b works on weekday wd (0 = Sunday): five days a week.
func worksOn(b, wd int) bool {
	return wd != b%7 && wd != (b+3)%7
}

func (p *Plan) hours(b int) (start, end pgtype.Time) {
	if p.hash("hours", int64(b))%2 == 0 {
		return clock(9, 0), clock(17, 0)
	}
	return clock(11, 0), clock(19, 0)
}

// clock is a time-of-day value for a "time" column (binary COPY needs the typed value).
func clock(hour, minute int) pgtype.Time {
	return pgtype.Time{Microseconds: int64(hour*60+minute) * 60e6, Valid: true}
}

func availabilityRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		id := int64(0)
		for b := 1; b <= p.Barbers; b++ {
			hired := p.Reference.AddDate(-1, 0, -int(p.hash("hired", int64(b))%900))
			start, end := p.hours(b)
			changed := p.hash("schedchange", int64(b))%3 == 0
			from := hired
			if changed {
				// An older schedule, replaced 200 days ago.
				switchDay := p.Reference.AddDate(0, 0, -200)
				for wd := 1; wd <= 5; wd++ {
					id++
					if !yield([]any{id, int64(b), int16(wd), clock(10, 0), clock(18, 0), hired, switchDay.AddDate(0, 0, -1)}) {
						return
					}
				}
				from = switchDay
			}
			for wd := 0; wd < 7; wd++ {
				if !worksOn(b, wd) {
					continue
				}
				id++
				if !yield([]any{id, int64(b), int16(wd), start, end, from, nil}) {
					return
				}
			}
		}
	}
}

var timeOffReasons = []string{"vacation", "sick", "training", "personal"}

func timeOffRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		id := int64(0)
		for b := 1; b <= p.Barbers; b++ {
			n := 4 + int(p.hash("toff", int64(b))%6)
			for i := 0; i < n; i++ {
				d := int(p.hash("toffday", int64(b), int64(i)) % (historyDays + futureDays))
				start := p.day(d)
				length := 1 + int(p.hash("tofflen", int64(b), int64(i))%5)
				id++
				if !yield([]any{id, int64(b), start, start.AddDate(0, 0, length), pick(p, timeOffReasons, "toffwhy", int64(b), int64(i))}) {
					return
				}
			}
		}
	}
}

// appt is one generated appointment; payments, notifications, reviews and payouts derive from it.
type appt struct {
	id, location, barber, client, bookedBy, service int64
	start                                           time.Time
	minutes, price                                  int
	status                                          string
	created, updated                                time.Time
	cancelledAt                                     *time.Time
	notes                                           any
}

// appointments yields every appointment in id order: day by day, barber by barber, so ids follow
// start times the way an insert-ordered production table's roughly do.
func (p *Plan) appointments() iter.Seq[*appt] {
	return func(yield func(*appt) bool) {
		var a appt
		pcg := rand.NewPCG(0, 0)
		rng := rand.New(pcg)
		weights := make([]int, len(services))
		id := int64(0)
		for d := 0; d < historyDays+futureDays; d++ {
			date := p.day(d)
			wd := int(date.Weekday())
			for b := 1; b <= p.Barbers; b++ {
				if !worksOn(b, wd) {
					continue
				}
				pcg.Seed(p.hash("apptday", int64(b)), uint64(d))
				loc := p.locationOf(b)
				shop := p.shopOfLocation(loc)
				nShop := p.clientsOfShop(shop)
				total := 0
				for k := range services {
					weights[k] = 0
					if offers(b, k) {
						weights[k] = services[k].weight
						total += weights[k]
					}
				}
				count := 3 + rng.IntN(7) // 3..9, six on average
				minute := dayOpensMinutes + 15*rng.IntN(4)
				for i := 0; i < count; i++ {
					k := 0
					for r := rng.IntN(total); ; k++ {
						if r < weights[k] {
							break
						}
						r -= weights[k]
					}
					svc := services[k]
					if minute+svc.minutes > dayClosesMinutes {
						break
					}
					id++
					// Regulars: low client ranks book far more often than high ones.
					rank := int(float64(nShop) * math.Pow(rng.Float64(), 2))
					client := shop + rank*p.Shops
					start := date.Add(time.Duration(minute) * time.Minute)
					a = appt{id: id, location: int64(loc), barber: int64(b), client: int64(client),
						service: p.serviceID(b, k), start: start, minutes: svc.minutes, price: svc.cents}
					if u := p.ClientUser[client]; u != 0 && rng.IntN(100) < 85 {
						a.bookedBy = u
					} else {
						a.bookedBy = p.barberUser(b) // booked at the desk or by phone
					}
					lead := time.Duration(1+rng.IntN(21*24)) * time.Hour
					a.created = start.Add(-lead)
					if a.created.After(p.Reference) {
						a.created = p.Reference.Add(-time.Duration(rng.IntN(7*24*60)) * time.Minute)
					}
					a.updated = a.created
					r := rng.IntN(100)
					if start.Before(p.Reference) {
						switch {
						case r < 86:
							a.status = "completed"
							a.updated = start.Add(time.Duration(svc.minutes) * time.Minute)
						case r < 95:
							a.status = "cancelled"
						default:
							a.status = "no_show"
							a.updated = start.Add(time.Hour)
						}
					} else {
						switch {
						case r < 75:
							a.status = "confirmed"
						case r < 95:
							a.status = "pending"
						default:
							a.status = "cancelled"
						}
					}
					if a.status == "cancelled" {
						at := a.created.Add(time.Duration(rng.Float64() * float64(start.Sub(a.created))))
						if at.After(p.Reference) {
							at = p.Reference.Add(-time.Hour)
						}
						a.cancelledAt, a.updated = &at, at
					}
					a.notes = nil
					if rng.IntN(20) == 0 {
						a.notes = appointmentNotes[rng.IntN(len(appointmentNotes))]
					}
					if !yield(&a) {
						return
					}
					minute += svc.minutes + 15*rng.IntN(3)
				}
			}
		}
	}
}

func appointmentRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		for a := range p.appointments() {
			var cancelled any
			if a.cancelledAt != nil {
				cancelled = *a.cancelledAt
			}
			if !yield([]any{a.id, a.location, a.barber, a.client, a.bookedBy, a.service, a.start, a.minutes,
				a.status, a.price, a.notes, a.created, a.updated, cancelled}) {
				return
			}
		}
	}
}

// StripeID is the payment-intent id of generated payment id.
func (p *Plan) StripeID(payment int64) string {
	return fmt.Sprintf("pi_%016x%08x", p.hash("stripe", payment), p.hash("stripe2", payment)>>32)
}

// payment describes the payment for a completed appointment.
type payment struct {
	status     string
	tip        int
	paidAt     any
	createdAt  time.Time
	settleable bool // counts towards the barber's payout
}

func (p *Plan) paymentFor(a *appt) payment {
	h := p.hash("pay", a.id)
	end := a.start.Add(time.Duration(a.minutes) * time.Minute)
	pm := payment{createdAt: end}
	switch r := h % 100; {
	case r < 97:
		pm.status, pm.paidAt, pm.settleable = "succeeded", end.Add(time.Duration(5+h%50)*time.Second), true
		pm.tip = a.price * []int{0, 10, 15, 20}[(h>>8)%4] / 100
	case r < 99:
		pm.status = "failed"
	default:
		pm.status, pm.paidAt = "refunded", end.Add(time.Minute)
	}
	return pm
}

func paymentRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		id := int64(0)
		for a := range p.appointments() {
			if a.status != "completed" {
				continue
			}
			id++
			pm := p.paymentFor(a)
			if !yield([]any{id, a.id, a.barber, p.StripeID(id), pm.status, a.price, pm.tip, "usd", pm.createdAt, pm.paidAt}) {
				return
			}
		}
	}
}

func payoutRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		type key struct {
			period int
			barber int64
		}
		sums := map[key]int64{}
		for a := range p.appointments() {
			if a.status != "completed" || !a.start.Before(p.Reference) {
				continue
			}
			if pm := p.paymentFor(a); pm.settleable {
				d := int(a.start.Sub(p.day(0)).Hours() / 24)
				sums[key{d / payoutPeriodDays, a.barber}] += int64(a.price + pm.tip)
			}
		}
		keys := make([]key, 0, len(sums))
		for k := range sums {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].period != keys[j].period {
				return keys[i].period < keys[j].period
			}
			return keys[i].barber < keys[j].barber
		})
		for i, k := range keys {
			id := int64(i + 1)
			start := p.day(k.period * payoutPeriodDays)
			end := start.AddDate(0, 0, payoutPeriodDays-1)
			created := end.AddDate(0, 0, 1)
			if created.After(p.Reference) {
				continue // the current period is still open
			}
			status, transfer, paid := "paid", any(fmt.Sprintf("tr_%016x", p.hash("transfer", id))), any(created.Add(48*time.Hour))
			if created.AddDate(0, 0, 3).After(p.Reference) {
				status, transfer, paid = "pending", nil, nil
			}
			if !yield([]any{id, k.barber, start, end, sums[k] / 2, status, transfer, created, paid}) {
				return
			}
		}
	}
}

func notificationRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		id := int64(0)
		emit := func(a *appt, channel, kind, status string, scheduled time.Time, sentAt any, attempts int) bool {
			id++
			payload := fmt.Sprintf(`{"template": "%s", "locale": "en", "appointment_id": %d}`, kind, a.id)
			created := a.created
			if scheduled.Before(created) {
				created = scheduled
			}
			return yield([]any{id, a.id, a.client, channel, kind, status, scheduled, sentAt, attempts, payload, created})
		}
		for a := range p.appointments() {
			if !emit(a, "email", "confirmation", "sent", a.created, a.created.Add(4*time.Second), 1) {
				return
			}
			remind := a.start.Add(-24 * time.Hour)
			status, sentAt, attempts := "sent", any(remind.Add(30*time.Second)), 1
			switch {
			case a.cancelledAt != nil && a.cancelledAt.Before(remind):
				status, sentAt, attempts = "cancelled", nil, 0
			case !remind.Before(p.Reference):
				status, sentAt, attempts = "pending", nil, 0
			case p.hash("smsfail", a.id)%60 == 0:
				status, sentAt, attempts = "failed", nil, 3
			}
			if !emit(a, "sms", "reminder_24h", status, remind, sentAt, attempts) {
				return
			}
			if a.status == "completed" {
				ask := a.start.Add(time.Duration(a.minutes)*time.Minute + 2*time.Hour)
				status, sentAt, attempts := "sent", any(ask.Add(20*time.Second)), 1
				if !ask.Before(p.Reference) {
					status, sentAt, attempts = "pending", nil, 0
				}
				if !emit(a, "email", "review_request", status, ask, sentAt, attempts) {
					return
				}
			}
		}
	}
}

func reviewRows(p *Plan) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		id := int64(0)
		for a := range p.appointments() {
			if a.status != "completed" || p.hash("review", a.id)%100 >= reviewSharePct {
				continue
			}
			created := a.start.Add(26 * time.Hour)
			if created.After(p.Reference) {
				continue
			}
			h := p.hash("rating", a.id)
			rating := int16(5)
			switch r := h % 100; {
			case r < 3:
				rating = 1
			case r < 7:
				rating = 2
			case r < 15:
				rating = 3
			case r < 40:
				rating = 4
			}
			var reply, replied any
			if (h>>8)%10 < 4 {
				reply, replied = "Thanks for coming in!", created.Add(20*time.Hour)
			}
			id++
			if !yield([]any{id, a.id, a.barber, a.client, rating, pick(p, reviewBodies, "rbody", a.id), reply, replied, created}) {
				return
			}
		}
	}
}
