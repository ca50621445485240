package pgbouncer

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/finding"
)

// Row is one row of an admin console SHOW command, by column name: the columns differ between
// PgBouncer versions, so nothing depends on their order.
type Row map[string]string

// Int reads a column as an integer (0 when absent).
func (r Row) Int(col string) int64 {
	n, _ := strconv.ParseInt(r[col], 10, 64)
	return n
}

// AdminState is what a running PgBouncer's admin console says.
type AdminState struct {
	Version string `json:"version"`
	Pools   []Row  `json:"pools"`
	Stats   []Row  `json:"stats"`
	// Config is SHOW CONFIG: key → value.
	Config map[string]string `json:"config"`
}

// ReadAdmin reads SHOW VERSION, POOLS, STATS and CONFIG through conn, which must be connected to
// the admin console (database pgbouncer) with the simple query protocol: the console speaks
// nothing else.
func ReadAdmin(ctx context.Context, conn *pgx.Conn) (*AdminState, error) {
	st := &AdminState{Config: map[string]string{}}
	show := func(what string) ([]Row, error) {
		rows, err := conn.Query(ctx, "SHOW "+what, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, fmt.Errorf("SHOW %s: %w", what, err)
		}
		defer rows.Close()
		var out []Row
		fields := rows.FieldDescriptions()
		for rows.Next() {
			vals := rows.RawValues()
			r := Row{}
			for i, f := range fields {
				r[f.Name] = string(vals[i])
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("SHOW %s: %w", what, err)
		}
		return out, nil
	}
	v, err := show("VERSION")
	if err != nil {
		return nil, err
	}
	for _, r := range v {
		for _, val := range r {
			st.Version = strings.TrimSpace(val)
		}
	}
	if st.Pools, err = show("POOLS"); err != nil {
		return nil, err
	}
	if st.Stats, err = show("STATS"); err != nil {
		return nil, err
	}
	cfg, err := show("CONFIG")
	if err != nil {
		return nil, err
	}
	for _, r := range cfg {
		st.Config[r["key"]] = r["value"]
	}
	return st, nil
}

// maxwait is a pool's longest current wait in seconds (maxwait plus maxwait_us where present).
func maxwait(r Row) float64 {
	return float64(r.Int("maxwait")) + float64(r.Int("maxwait_us"))/1e6
}

// Findings reads an admin state: clients waiting for a server connection (and for how long),
// pools whose every server connection is busy, the average wait per database, clients near
// max_client_conn, and — when rendered is given — settings that differ from pgtune's.
func Findings(st *AdminState, rendered *Config) []finding.Finding {
	var out []finding.Finding
	queryWait, _ := strconv.ParseFloat(st.Config["query_wait_timeout"], 64)
	poolSize, _ := strconv.ParseInt(st.Config["default_pool_size"], 10, 64)
	var clients int64
	for _, p := range st.Pools {
		if p["database"] == "pgbouncer" {
			continue // the admin console itself
		}
		name := p["database"] + "/" + p["user"]
		clients += p.Int("cl_active") + p.Int("cl_waiting")
		waiting, wait := p.Int("cl_waiting"), maxwait(p)
		ev := finding.Facts("pool", name, "cl_active", p.Int("cl_active"), "cl_waiting", waiting, "maxwait_seconds", wait,
			"sv_active", p.Int("sv_active"), "sv_idle", p.Int("sv_idle"), "default_pool_size", poolSize, "query_wait_timeout", queryWait, "pool_mode", p["pool_mode"])
		if waiting > 0 {
			sev := finding.SeverityLow
			switch {
			case queryWait > 0 && wait >= queryWait/2:
				sev = finding.SeverityHigh
			case wait >= 1:
				sev = finding.SeverityMedium
			}
			out = append(out, finding.Finding{Rule: "pgbouncer.clients_waiting", Kind: finding.KindSettings, Severity: sev,
				Title:    fmt.Sprintf("pool %s: %d clients waiting for a server connection, the longest %.1f s", name, waiting, wait),
				Detail:   fmt.Sprintf("Every server connection of the pool is busy, so clients queue; past query_wait_timeout (%gs) they get an error. If the server has CPU to spare, the pool is too small for the load; if not, the queue is the pool protecting the server: find the slow transactions instead.", queryWait),
				Evidence: ev, Action: "compare with the server's CPU: raise default_pool_size (and max_connections: pgtune config and pgtune pgbouncer with the same flags) only if it is idle"})
		} else if poolSize > 0 && p.Int("sv_active") >= poolSize {
			out = append(out, finding.Finding{Rule: "pgbouncer.pool_saturated", Kind: finding.KindSettings, Severity: finding.SeverityLow,
				Title:    fmt.Sprintf("pool %s: all %d server connections busy, nobody waiting yet", name, poolSize),
				Detail:   "The next client will queue. Watch cl_waiting and maxwait under the day's peak.",
				Evidence: ev})
		}
	}
	for _, s := range st.Stats {
		if s["database"] == "pgbouncer" {
			continue
		}
		avgWait := float64(s.Int("avg_wait_time")) / 1000 // microseconds → ms
		if avgWait >= 100 {
			sev := finding.SeverityMedium
			if avgWait >= 1000 {
				sev = finding.SeverityHigh
			}
			out = append(out, finding.Finding{Rule: "pgbouncer.wait_time", Kind: finding.KindSettings, Severity: sev,
				Title:  fmt.Sprintf("database %s: clients waited %.0f ms on average for a server connection", s["database"], avgWait),
				Detail: "SHOW STATS averages the wait of the last stats period: that much is added to every transaction's latency before it starts.",
				Evidence: finding.Facts("database", s["database"], "avg_wait_ms", avgWait, "avg_xact_time_us", s.Int("avg_xact_time"),
					"avg_xact_count", s.Int("avg_xact_count"), "total_wait_time_us", s.Int("total_wait_time")),
				Action: "see pgbouncer.clients_waiting: a bigger pool if the server is idle, faster transactions if it is not"})
		}
	}
	if maxClient, err := strconv.ParseInt(st.Config["max_client_conn"], 10, 64); err == nil && maxClient > 0 && clients >= maxClient*8/10 {
		out = append(out, finding.Finding{Rule: "pgbouncer.clients_near_limit", Kind: finding.KindSettings, Severity: finding.SeverityHigh,
			Title:    fmt.Sprintf("%d of max_client_conn %d client connections in use", clients, maxClient),
			Detail:   "Clients beyond max_client_conn are refused at once.",
			Evidence: finding.Facts("clients", clients, "max_client_conn", maxClient),
			Action:   "raise max_client_conn (and the open-files limit): pgtune pgbouncer --app-instances N --app-pool-size M sizes both"})
	}
	if rendered != nil {
		if f := configDiff(st, rendered); f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// configDiff lists the running PgBouncer's settings that differ from the rendered ones.
func configDiff(st *AdminState, rendered *Config) *finding.Finding {
	var ev finding.Evidence
	var names []string
	for _, s := range rendered.Settings {
		live, ok := st.Config[s.Name]
		if !ok || strings.EqualFold(strings.TrimSpace(live), s.Value) {
			continue
		}
		ev = append(ev, finding.Fact{Name: s.Name, Value: fmt.Sprintf("%s -> %s: %s", live, s.Value, s.Reason)})
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return &finding.Finding{Rule: "pgbouncer.differs", Kind: finding.KindSettings, Severity: finding.SeverityLow,
		Title:    fmt.Sprintf("%d PgBouncer setting(s) differ from pgtune's: %s", len(names), strings.Join(names, ", ")),
		Detail:   "Each line gives the running value, pgtune's, and why.",
		Evidence: ev, Action: "render pgbouncer.ini with pgtune pgbouncer and RELOAD on the admin console (listen and so_reuseport changes need a restart)"}
}
