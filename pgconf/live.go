package pgconf

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
)

// Signal is what a live server's evidence says about its settings: requested checkpoints about
// max_wal_size, temporary files about work_mem, the buffer cache hit ratio about shared_buffers,
// autovacuum's lag and the oldest transaction ID's age about autovacuum, the connections in use
// about max_connections. `pgtune config --dsn` sizes with them; `pgtune advise` reports them.
type Signal struct {
	Rule    string `json:"rule"`
	Setting string `json:"setting,omitempty"`
	// Current is the server's value; Suggest the value the evidence alone supports ("" when a
	// value needs the instance's size: pgtune config then sets it).
	Current  string           `json:"current,omitempty"`
	Suggest  string           `json:"suggest,omitempty"`
	Severity finding.Severity `json:"severity"`
	Kind     finding.Kind     `json:"kind"`
	Title    string           `json:"title"`
	Detail   string           `json:"detail"`
	Evidence finding.Evidence `json:"evidence"`
	// Statements are the statements the evidence comes from, when it comes from statements.
	Statements []finding.StatementEvidence `json:"statements,omitempty"`
	Action     string                      `json:"action,omitempty"`
	SQL        string                      `json:"sql,omitempty"`
}

// Finding is the signal as an advisor finding.
func (s Signal) Finding() finding.Finding {
	return finding.Finding{Rule: s.Rule, Kind: s.Kind, Severity: s.Severity, Title: s.Title, Detail: s.Detail,
		Evidence: s.Evidence, Statements: s.Statements, SQL: s.SQL, Action: s.Action}
}

// liveSettings reads a snapshot's pg_settings rows.
type liveSettings struct{ snap *dbstate.Snapshot }

func (l liveSettings) row(name string) (dbstate.Setting, bool) {
	for _, s := range l.snap.Settings {
		if s.Name == name {
			return s, true
		}
	}
	return dbstate.Setting{}, false
}

// number reads a setting in base units (bytes, milliseconds, or the plain number).
func (l liveSettings) number(name string) (float64, bool) {
	s, ok := l.row(name)
	if !ok {
		return 0, false
	}
	p, known := Lookup(name)
	if !known {
		p = Param{Name: name, Kind: KindReal}
		if strings.HasSuffix(s.Unit, "B") {
			p.Kind = KindBytes
		}
	}
	v, err := p.ParseValue(s.Setting, s.Unit)
	if err != nil || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// LiveValue reads a snapshot's setting in base units (bytes, milliseconds, or the plain number),
// whatever unit pg_settings reported it in.
func LiveValue(snap *dbstate.Snapshot, name string) (float64, bool) {
	return liveSettings{snap}.number(name)
}

// text is a setting as postgresql.conf would write it: 4GB, 15min, 200.
func (l liveSettings) text(name string) string {
	s, ok := l.row(name)
	if !ok {
		return ""
	}
	p, _ := Lookup(name)
	v, ok := l.number(name)
	switch {
	case !ok:
		return s.Setting
	case p.Kind == KindBytes && v >= 0:
		return FormatBytes(int64(v))
	case p.Kind == KindDuration && v >= 0:
		return FormatDuration(time.Duration(v) * time.Millisecond)
	}
	return s.Setting
}

func hours(d time.Duration) float64 { return d.Hours() }

// ceilPow2GB rounds a WAL size up to a power of two gigabytes (at least 1GB).
func ceilPow2GB(b float64) int64 {
	g := int64(GB)
	for float64(g) < b && g < 1024*GB {
		g *= 2
	}
	return g
}

// Assess reads a live snapshot's evidence. A snapshot without server activity gives none.
func Assess(snap *dbstate.Snapshot) []Signal {
	a := snap.Activity
	if a == nil {
		return nil
	}
	l := liveSettings{snap}
	var out []Signal
	for _, rule := range []func(*dbstate.ServerActivity, liveSettings) *Signal{
		assessCheckpoints, assessTempFiles, assessCacheHits, assessConnections, assessWraparound, assessBackendWrites,
	} {
		if s := rule(a, l); s != nil {
			out = append(out, *s)
		}
	}
	for _, rule := range []func(*dbstate.Snapshot, liveSettings) *Signal{assessParallelShort, assessWALBuffersFull} {
		if s := rule(snap, l); s != nil {
			out = append(out, *s)
		}
	}
	if s := assessAutovacuumLag(snap, l); s != nil {
		out = append(out, *s)
	}
	return out
}

func since(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// assessCheckpoints: a checkpoint requested because WAL reached max_wal_size, not by
// checkpoint_timeout, writes full-page images sooner and in bursts.
func assessCheckpoints(a *dbstate.ServerActivity, l liveSettings) *Signal {
	total := a.CheckpointsTimed + a.CheckpointsRequested
	if total < 10 {
		return nil
	}
	share := float64(a.CheckpointsRequested) / float64(total)
	if share < 0.2 {
		return nil
	}
	maxWAL, _ := l.number("max_wal_size")
	timeout, ok := l.number("checkpoint_timeout")
	if !ok {
		timeout = 300e3
	}
	suggest := ceilPow2GB(maxWAL * 2)
	ev := finding.Facts("checkpoints_timed", a.CheckpointsTimed, "checkpoints_requested", a.CheckpointsRequested,
		"requested_share", math.Round(share*1000)/1000, "max_wal_size", l.text("max_wal_size"),
		"checkpoint_timeout", l.text("checkpoint_timeout"), "counters_since", since(a.CheckpointsSince))
	detail := fmt.Sprintf("%.0f %% of %d checkpoints were requested because WAL reached max_wal_size, not by checkpoint_timeout: each writes full-page images again sooner, and in bursts.", share*100, total)
	if w := a.Window(a.WALSince); a.WALBytes > 0 && w >= time.Hour {
		perTimeout := float64(a.WALBytes) / w.Seconds() * timeout / 1000
		suggest = max(suggest, ceilPow2GB(perTimeout*2))
		ev = append(ev, finding.Fact{Name: "wal_per_checkpoint_timeout", Value: HumanBytes(int64(perTimeout))},
			finding.Fact{Name: "wal_per_hour", Value: HumanBytes(int64(float64(a.WALBytes) / hours(w)))})
		detail += fmt.Sprintf(" The server writes about %s of WAL per checkpoint_timeout on average; max_wal_size should hold twice that, for bursts.", HumanBytes(int64(perTimeout)))
	}
	sev := finding.SeverityLow
	if share >= 0.5 {
		sev = finding.SeverityMedium
	}
	v := FormatBytes(suggest)
	return &Signal{Rule: "settings.checkpoints_requested", Setting: "max_wal_size", Current: l.text("max_wal_size"), Suggest: v,
		Severity: sev, Kind: finding.KindSettings,
		Title:  fmt.Sprintf("%.0f %% of checkpoints are forced by WAL volume: raise max_wal_size to %s", share*100, v),
		Detail: detail, Evidence: ev,
		SQL:    fmt.Sprintf("ALTER SYSTEM SET max_wal_size = '%s';\nSELECT pg_reload_conf();", v),
		Action: "keep that much free space on the WAL disk; crash recovery replays up to that much WAL"}
}

// assessTempFiles: sorts and hashes that spill a little over work_mem would stay in memory
// with a little more of it.
func assessTempFiles(a *dbstate.ServerActivity, l liveSettings) *Signal {
	w := a.Window(a.DatabaseSince)
	if a.TempFiles < 10 || w < time.Hour {
		return nil
	}
	perHour := float64(a.TempFiles) / hours(w)
	if perHour < 1 {
		return nil
	}
	avg := float64(a.TempBytes) / float64(a.TempFiles)
	wm, _ := l.number("work_mem")
	ev := finding.Facts("temp_files", a.TempFiles, "temp_files_per_hour", math.Round(perHour*10)/10,
		"average_temp_file", HumanBytes(int64(avg)), "work_mem", l.text("work_mem"), "counters_since", since(a.DatabaseSince))
	sev := finding.SeverityLow
	if perHour >= 100 {
		sev = finding.SeverityMedium
	}
	s := &Signal{Rule: "settings.temp_spills", Setting: "work_mem", Current: l.text("work_mem"), Severity: sev, Kind: finding.KindSettings, Evidence: ev}
	if wm > 0 && avg <= 8*wm {
		// The spills are a few times work_mem: a power of two above the average keeps them in memory.
		target := int64(wm)
		for float64(target) < avg && target < GB {
			target *= 2
		}
		s.Suggest = FormatBytes(target)
		s.Title = fmt.Sprintf("%.0f temporary files an hour, %s on average: raise work_mem to %s", perHour, HumanBytes(int64(avg)), s.Suggest)
		s.Detail = fmt.Sprintf("Sorts and hashes spill to disk about %.0f times an hour with files averaging %s, a few times work_mem (%s): that much more work_mem keeps them in memory. Check the memory budget first: pgtune config --dsn ... --memory <RAM> raises it only as far as the worst case fits.", perHour, HumanBytes(int64(avg)), l.text("work_mem"))
		s.SQL = fmt.Sprintf("ALTER SYSTEM SET work_mem = '%s';\nSELECT pg_reload_conf();", s.Suggest)
	} else {
		s.Title = fmt.Sprintf("%.0f temporary files an hour, %s on average: far beyond work_mem", perHour, HumanBytes(int64(avg)))
		s.Detail = fmt.Sprintf("The spills average %s, more than 8 × work_mem (%s): raising work_mem for everyone would not keep them in memory safely. Find the statements with the most temp_blks_written in pg_stat_statements and give them an index, a rewrite, or SET LOCAL work_mem.", HumanBytes(int64(avg)), l.text("work_mem"))
		s.Action = "SELECT query, temp_blks_written FROM pg_stat_statements ORDER BY temp_blks_written DESC LIMIT 10"
	}
	return s
}

// assessCacheHits: a low buffer cache hit ratio on a workload that is not scanning a data set
// larger than RAM means shared_buffers is too small for the working set.
func assessCacheHits(a *dbstate.ServerActivity, l liveSettings) *Signal {
	total := a.BlocksHit + a.BlocksRead
	if total < 1_000_000 {
		return nil
	}
	ratio := float64(a.BlocksHit) / float64(total)
	if ratio >= 0.99 {
		return nil
	}
	sb, _ := l.number("shared_buffers")
	sev := finding.SeverityLow
	if ratio < 0.95 {
		sev = finding.SeverityMedium
	}
	detail := fmt.Sprintf("%.1f %% of %d block reads were found in shared_buffers (%s); the rest came from the OS cache or disk. A web or OLTP working set should be above 99 %%.", ratio*100, total, l.text("shared_buffers"))
	if sb <= float64(128*MB) {
		detail += " shared_buffers is still PostgreSQL's 128MB default."
	}
	return &Signal{Rule: "settings.cache_hit_ratio", Setting: "shared_buffers", Current: l.text("shared_buffers"),
		Severity: sev, Kind: finding.KindSettings,
		Title:  fmt.Sprintf("buffer cache hit ratio %.1f %%: shared_buffers %s is small for the working set", ratio*100, l.text("shared_buffers")),
		Detail: detail + " An analytical workload reading a data set far larger than RAM is the exception.",
		Evidence: finding.Facts("blocks_hit", a.BlocksHit, "blocks_read", a.BlocksRead, "hit_ratio", math.Round(ratio*10000)/10000,
			"shared_buffers", l.text("shared_buffers"), "counters_since", since(a.DatabaseSince)),
		Action: "size shared_buffers to the RAM: pgtune config --dsn ... --memory <RAM> --cpus <N> (a restart applies it)"}
}

// assessConnections: connections near max_connections, or many idle ones, call for a pooler.
func assessConnections(a *dbstate.ServerActivity, l liveSettings) *Signal {
	maxConn, ok := l.number("max_connections")
	if !ok || maxConn <= 0 {
		return nil
	}
	use := float64(a.ClientBackends) / maxConn
	ev := finding.Facts("client_backends", a.ClientBackends, "active_backends", a.ActiveBackends, "max_connections", int64(maxConn),
		"usage", math.Round(use*1000)/1000)
	switch {
	case use >= 0.8:
		sev := finding.SeverityMedium
		if use >= 0.95 {
			sev = finding.SeverityHigh
		}
		return &Signal{Rule: "settings.connections_near_limit", Setting: "max_connections", Current: l.text("max_connections"),
			Severity: sev, Kind: finding.KindSettings,
			Title:    fmt.Sprintf("%d of %d connections in use (%.0f %%)", a.ClientBackends, int(maxConn), use*100),
			Detail:   fmt.Sprintf("The next burst of clients will be refused; only %d of the %d are running a query now. PgBouncer in transaction mode serves them with a few server connections.", a.ActiveBackends, a.ClientBackends),
			Evidence: ev, Action: "put PgBouncer in front: pgtune pgbouncer renders it with max_connections from the same budget"}
	case a.ClientBackends >= 50 && float64(a.ActiveBackends) < 0.1*float64(a.ClientBackends):
		return &Signal{Rule: "settings.connections_idle", Setting: "max_connections", Current: l.text("max_connections"),
			Severity: finding.SeverityLow, Kind: finding.KindSettings,
			Title:    fmt.Sprintf("%d connections open, %d running a query", a.ClientBackends, a.ActiveBackends),
			Detail:   "Each idle connection is a backend holding memory and a slot in max_connections; a pooler would serve the same clients with a few server connections and let work_mem grow.",
			Evidence: ev, Action: "put PgBouncer in front: pgtune pgbouncer"}
	}
	return nil
}

// assessWraparound: the oldest unfrozen transaction ID against autovacuum_freeze_max_age.
func assessWraparound(a *dbstate.ServerActivity, l liveSettings) *Signal {
	freezeMax, ok := l.number("autovacuum_freeze_max_age")
	if !ok || freezeMax <= 0 {
		freezeMax = 200_000_000
	}
	share := float64(a.OldestXIDAge) / freezeMax
	if share < 0.5 && a.OldestXIDAge < 1_000_000_000 {
		return nil
	}
	sev := finding.SeverityMedium
	switch {
	case a.OldestXIDAge >= 1_500_000_000:
		sev = finding.SeverityCritical
	case share >= 1:
		sev = finding.SeverityHigh
	}
	return &Signal{Rule: "settings.wraparound_age", Setting: "autovacuum_max_workers", Current: l.text("autovacuum_max_workers"),
		Severity: sev, Kind: finding.KindMaintenance,
		Title:  fmt.Sprintf("database %s's oldest transaction ID is %d old (%.0f %% of autovacuum_freeze_max_age)", a.OldestXIDDatabase, a.OldestXIDAge, share*100),
		Detail: fmt.Sprintf("Autovacuum is not freezing fast enough: at 2^31 (about 2.1 billion) PostgreSQL stops assigning transaction IDs. Give autovacuum more workers and a higher cost limit, and freeze the oldest tables in %s now.", a.OldestXIDDatabase),
		Evidence: finding.Facts("database", a.OldestXIDDatabase, "oldest_xid_age", a.OldestXIDAge, "autovacuum_freeze_max_age", int64(freezeMax),
			"oldest_mxid_age", a.OldestMXIDAge, "autovacuum_running", a.AutovacuumRunning, "autovacuum_max_workers", l.text("autovacuum_max_workers")),
		SQL:    "-- in " + a.OldestXIDDatabase + ": the tables whose relfrozenxid is oldest first\nSELECT c.oid::regclass, age(c.relfrozenxid) FROM pg_class c WHERE c.relkind IN ('r', 'm', 't') ORDER BY 2 DESC LIMIT 10;\n-- then, for each: VACUUM (FREEZE, VERBOSE) <table>;",
		Action: "raise autovacuum_max_workers and autovacuum_vacuum_cost_limit (pgtune config --dsn sizes them)"}
}

// assessAutovacuumLag: tables whose dead rows passed autovacuum's threshold long ago.
func assessAutovacuumLag(snap *dbstate.Snapshot, l liveSettings) *Signal {
	a := snap.Activity
	threshold, ok1 := l.number("autovacuum_vacuum_threshold")
	scale, ok2 := l.number("autovacuum_vacuum_scale_factor")
	if !ok1 || !ok2 {
		return nil
	}
	var behind []string
	var dead int64
	for _, t := range snap.Tables {
		s := t.Stats
		if s == nil || s.DeadTuples < 10_000 || len(t.Reloptions) > 0 {
			continue // tables with their own autovacuum settings are issue 6's planner's business
		}
		if float64(s.DeadTuples) <= threshold+scale*math.Max(t.RowEstimate, 0) {
			continue
		}
		last := s.LastAutovacuum
		if s.LastVacuum != nil && (last == nil || s.LastVacuum.After(*last)) {
			last = s.LastVacuum
		}
		if last != nil && a.CollectedAt.Sub(*last) < 24*time.Hour {
			continue
		}
		behind = append(behind, t.Schema+"."+t.Name)
		dead += s.DeadTuples
	}
	workers, _ := l.number("autovacuum_max_workers")
	if len(behind) < 3 && !(len(behind) > 0 && float64(a.AutovacuumRunning) >= workers) {
		return nil
	}
	shown := behind
	if len(shown) > 5 {
		shown = shown[:5]
	}
	return &Signal{Rule: "settings.autovacuum_behind", Setting: "autovacuum_max_workers", Current: l.text("autovacuum_max_workers"),
		Severity: finding.SeverityMedium, Kind: finding.KindMaintenance,
		Title:  fmt.Sprintf("autovacuum is behind on %d tables (%d dead rows past the threshold for over a day)", len(behind), dead),
		Detail: fmt.Sprintf("Their dead rows passed autovacuum's threshold, yet none was vacuumed in the last 24 hours (%d of %s workers busy now): the workers are too few or too throttled.", a.AutovacuumRunning, l.text("autovacuum_max_workers")),
		Evidence: finding.Facts("tables", strings.Join(shown, ", "), "tables_behind", len(behind), "dead_rows", dead,
			"autovacuum_running", a.AutovacuumRunning, "autovacuum_max_workers", l.text("autovacuum_max_workers"),
			"autovacuum_vacuum_cost_limit", l.text("autovacuum_vacuum_cost_limit")),
		Action: "raise autovacuum_max_workers and autovacuum_vacuum_cost_limit (pgtune config --dsn sizes them); VACUUM the tables listed tonight"}
}

// signalFor returns the live signal of a rule, if any.
func (p *plan) signalFor(rule string) *Signal {
	for i := range p.signals {
		if p.signals[i].Rule == rule {
			return &p.signals[i]
		}
	}
	return nil
}

// RecommendLive is Recommend corrected by a live server's evidence (Assess): the version is the
// server's, and where the evidence disagrees with the heuristics the evidence wins, within the
// memory budget, with the reason stated on the setting.
func RecommendLive(in Instance, snap *dbstate.Snapshot) (*Config, []Signal, error) {
	signals := Assess(snap)
	p := &plan{in: in, signals: signals, live: &liveSettings{snap}}
	if snap.Activity != nil {
		p.observedClients = snap.Activity.ClientBackends
	}
	cfg, err := p.recommend()
	return cfg, signals, err
}

// preloadWith is the live shared_preload_libraries with pg_stat_statements added (kept first
// when already there).
func preloadWith(live string) string {
	var libs []string
	have := false
	for _, l := range strings.Split(live, ",") {
		l = strings.TrimSpace(strings.Trim(strings.TrimSpace(l), `"`))
		if l == "" {
			continue
		}
		if l == "pg_stat_statements" {
			have = true
		}
		libs = append(libs, l)
	}
	if !have {
		libs = append(libs, "pg_stat_statements")
	}
	return strings.Join(libs, ",")
}

// Change is one rendered setting against the live server's value.
type Change struct {
	Name    string `json:"name"`
	Live    string `json:"live"`
	Pgtune  string `json:"pgtune"`
	Differs bool   `json:"differs"`
	// Restart: applying the change needs a server restart.
	Restart bool `json:"restart"`
}

// Diff compares every rendered setting with the live server's (same value in other units is no
// change: 4GB and 4096MB are equal).
func Diff(cfg *Config, snap *dbstate.Snapshot) []Change {
	l := liveSettings{snap}
	out := make([]Change, 0, len(cfg.Settings))
	for _, s := range cfg.Settings {
		c := Change{Name: s.Name, Live: l.text(s.Name), Pgtune: s.Value, Restart: s.Restart}
		row, ok := l.row(s.Name)
		switch p, _ := Lookup(s.Name); {
		case !ok:
			c.Live, c.Differs = "(not set: library not loaded)", true
		case p.Kind == KindEnum || p.Kind == KindString:
			c.Differs = !strings.EqualFold(strings.ReplaceAll(row.Setting, " ", ""), strings.ReplaceAll(s.Value, " ", ""))
		default:
			live, err1 := p.ParseValue(row.Setting, row.Unit)
			want, err2 := p.ParseValue(s.Value, "")
			c.Differs = err1 != nil || err2 != nil || math.Abs(live-want) > 1e-9*math.Max(1, math.Abs(want))
		}
		if !c.Differs {
			c.Restart = false
		}
		out = append(out, c)
	}
	return out
}
