package prereq

import (
	"fmt"
	"strings"

	"github.com/bookedbarber/pgtune/finding"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// MinServerVersion is the oldest PostgreSQL pgtune supports (13).
const MinServerVersion = 130000

// Check is one prerequisite and what was found.
type Check struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Observed string `json:"observed"`
	// Finding is set when the check failed.
	Finding *finding.Finding `json:"finding,omitempty"`
}

// Evaluate turns the observed state into checks, in the order `check` prints them: one rule
// per function below, each adding its check (or checks; none where it does not apply).
func Evaluate(s *State) []Check {
	var checks []Check
	add := func(name, observed string, f *finding.Finding) {
		checks = append(checks, Check{Name: name, OK: f == nil, Observed: observed, Finding: f})
	}
	for _, rule := range rules {
		rule(s, add)
	}
	return checks
}

// rules are Evaluate's checks, in order.
var rules = []func(s *State, add func(name, observed string, f *finding.Finding)){
	checkServerVersion, checkPGSSPreloaded, checkPGSSCreated, checkPGSSUpToDate, checkTracking, checkComputeQueryID, checkReadAllStats, checkPlannerProofs, checkUntrack, checkEvictions, checkTrackIOTiming, checkHypoPG,
}

// pgssPreloaded: pg_stat_statements is loaded (or listed to be, when the role cannot tell).
func pgssPreloaded(s *State) bool { return s.PGSSLoaded || preloaded(s.SharedPreloadLibraries) }

// checkServerVersion: the server is a version pgtune supports (13 or newer).
func checkServerVersion(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	if s.ServerVersionNum < MinServerVersion {
		f = &finding.Finding{Rule: "check.server.unsupported_version", Kind: finding.KindPrerequisite, Severity: finding.SeverityCritical,
			Title:    "PostgreSQL " + s.ServerVersion + " is older than pgtune supports (13)",
			Detail:   "pgtune reads catalog views and pg_stat_statements columns that exist from PostgreSQL 13 on.",
			Evidence: finding.Facts("server_version", s.ServerVersion),
			Action:   "upgrade the server to PostgreSQL 13 or newer"}
	}
	add("server version 13 or newer", s.ServerVersion, f)
}

// checkPGSSPreloaded: pg_stat_statements is in shared_preload_libraries.
func checkPGSSPreloaded(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	libsObserved := quoteOrEmpty(s.SharedPreloadLibraries)
	if s.SettingsHidden {
		libsObserved = "(hidden: needs pg_read_all_settings)"
	}
	if !pgssPreloaded(s) {
		libs := strings.TrimSpace(s.SharedPreloadLibraries)
		want := "pg_stat_statements"
		if libs != "" {
			want = libs + ",pg_stat_statements"
		}
		sql, action := fmt.Sprintf("ALTER SYSTEM SET shared_preload_libraries = '%s';", want), "restart PostgreSQL"
		if s.SettingsHidden {
			sql, action = "", "add pg_stat_statements to shared_preload_libraries, keeping the libraries already there (ALTER SYSTEM SET shared_preload_libraries = '<current>,pg_stat_statements'), then restart PostgreSQL"
		}
		f = &finding.Finding{Rule: "check.pg_stat_statements.not_preloaded", Kind: finding.KindPrerequisite, Severity: finding.SeverityCritical,
			Title:    "pg_stat_statements is not loaded",
			Detail:   "pgtune learns the workload from pg_stat_statements, which only records statements when it is in shared_preload_libraries. Changing it needs a server restart.",
			Evidence: finding.Facts("shared_preload_libraries", libsObserved),
			SQL:      sql, Action: action}
	}
	add("pg_stat_statements in shared_preload_libraries", libsObserved, f)
}

// checkPGSSCreated: the extension is created in this database.
func checkPGSSCreated(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	observed := "version " + s.PGSSInstalled + " in schema " + s.PGSSSchema
	switch {
	case s.PGSSDefault == "":
		observed = "not available on this server"
		f = &finding.Finding{Rule: "check.pg_stat_statements.not_available", Kind: finding.KindPrerequisite, Severity: finding.SeverityCritical,
			Title:  "the pg_stat_statements extension is not available on this server",
			Detail: "It ships with PostgreSQL's contrib modules, which this server lacks.",
			Action: "install PostgreSQL's contrib package (e.g. apt-get install postgresql-contrib), then: CREATE EXTENSION pg_stat_statements;"}
	case s.PGSSInstalled == "":
		observed = "not created in database " + s.Database
		f = &finding.Finding{Rule: "check.pg_stat_statements.not_created", Kind: finding.KindPrerequisite, Severity: finding.SeverityHigh,
			Title:    "pg_stat_statements is not created in database " + s.Database,
			Detail:   "The extension's view must exist in the database pgtune connects to. Creating it is cheap and needs no restart.",
			Evidence: finding.Facts("available_version", s.PGSSDefault),
			SQL:      "CREATE EXTENSION pg_stat_statements;"}
	}
	add("pg_stat_statements created", observed, f)
}

// checkPGSSUpToDate: the extension is up to date (after pg_upgrade the old version stays until updated).
func checkPGSSUpToDate(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	if s.PGSSInstalled != "" && s.PGSSDefault != "" {
		wantMajor, wantMinor := majorMinor(s.PGSSDefault)
		if !versionAtLeast(s.PGSSInstalled, wantMajor, wantMinor) {
			f = &finding.Finding{Rule: "check.pg_stat_statements.outdated", Kind: finding.KindPrerequisite, Severity: finding.SeverityLow,
				Title:    "pg_stat_statements " + s.PGSSInstalled + " is older than the server's " + s.PGSSDefault,
				Detail:   "An extension is not updated by pg_upgrade; the older version lacks columns pgtune uses (I/O timings, WAL, JIT).",
				Evidence: finding.Facts("installed", s.PGSSInstalled, "available", s.PGSSDefault),
				SQL:      "ALTER EXTENSION pg_stat_statements UPDATE;"}
		}
		add("pg_stat_statements up to date", s.PGSSInstalled+" (server offers "+s.PGSSDefault+")", f)
	}
}

// checkTracking: pg_stat_statements.track records statements.
func checkTracking(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	if pgssPreloaded(s) {
		if s.PGSSTrack == "none" {
			f = &finding.Finding{Rule: "check.pg_stat_statements.track_none", Kind: finding.KindPrerequisite, Severity: finding.SeverityHigh,
				Title:    "pg_stat_statements.track is none: nothing is recorded",
				Evidence: finding.Facts("pg_stat_statements.track", s.PGSSTrack),
				SQL:      "ALTER SYSTEM SET pg_stat_statements.track = 'top'; SELECT pg_reload_conf();"}
		}
		add("pg_stat_statements.track records statements", s.PGSSTrack, f)
	}
}

// checkComputeQueryID: from 14, query IDs computed (pg_stat_statements records nothing without).
func checkComputeQueryID(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	if s.ServerVersionNum >= 140000 && pgssPreloaded(s) {
		if s.ComputeQueryID == "off" {
			f = &finding.Finding{Rule: "check.compute_query_id.off", Kind: finding.KindPrerequisite, Severity: finding.SeverityHigh,
				Title:    "compute_query_id is off, so pg_stat_statements records nothing",
				Evidence: finding.Facts("compute_query_id", s.ComputeQueryID),
				SQL:      "ALTER SYSTEM SET compute_query_id = 'auto'; SELECT pg_reload_conf();"}
		}
		add("compute_query_id on or auto", s.ComputeQueryID, f)
	}
}

// checkReadAllStats: the privilege to read everyone's statements.
func checkReadAllStats(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	who := s.User
	switch {
	case s.Superuser:
		who += " (superuser)"
	case s.ReadAllStats:
		who += " (member of pg_read_all_stats)"
	default:
		who += " (no pg_read_all_stats)"
		f = &finding.Finding{Rule: "check.privileges.read_all_stats", Kind: finding.KindPrerequisite, Severity: finding.SeverityHigh,
			Title:    "user " + s.User + " cannot read other roles' statements",
			Detail:   "Without pg_read_all_stats, pg_stat_statements hides the text and queryid of every statement run by another role, so the advice would rest on this user's own statements only.",
			Evidence: finding.Facts("user", s.User),
			SQL:      fmt.Sprintf("GRANT pg_read_all_stats TO %s;  -- or GRANT pg_monitor", quote.Ident(s.User))}
	}
	add("may read all roles' statistics", who, f)
}

// checkPlannerProofs: SELECT on the tables, since EXPLAIN needs it, and every planner proof is an EXPLAIN.
func checkPlannerProofs(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	observed := fmt.Sprintf("all %d tables", s.Tables)
	if s.Unreadable > 0 {
		observed = fmt.Sprintf("no SELECT on %d of %d tables", s.Unreadable, s.Tables)
		f = &finding.Finding{Rule: "check.privileges.planner_proofs", Kind: finding.KindPrerequisite, Severity: finding.SeverityHigh,
			Title:    fmt.Sprintf("user %s cannot EXPLAIN statements on %d of %d tables, so no index advice can be proven there", s.User, s.Unreadable, s.Tables),
			Detail:   "pgtune proves each index with EXPLAIN, which PostgreSQL allows only to a role that may SELECT from the tables (pg_monitor alone does not). EXPLAIN reads no rows; the privilege is what the planner checks.",
			Evidence: finding.Facts("tables without SELECT", strings.Join(s.UnreadableExamples, ", ")),
			SQL:      PlannerGrant(s.User, s.ServerVersionNum)}
	}
	add("may plan the workload (SELECT on its tables)", observed, f)
}

// checkUntrack: pgtune's own statements leave no footprint in pg_stat_statements.
func checkUntrack(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	observed := "yes: pgtune's sessions run with pg_stat_statements.track = none"
	if !s.MayUntrack && s.PGSSLoaded {
		observed = "no: pgtune's statements are recorded (marked, and left out of the workload)"
		if s.ServerVersionNum >= 150000 {
			f = &finding.Finding{Rule: "check.privileges.untrack", Kind: finding.KindPrerequisite, Severity: finding.SeverityInfo,
				Title:  "pgtune's own statements are recorded in pg_stat_statements",
				Detail: "pgtune marks its statements and leaves them (and the nested statements its EXPLAINs record under track = all) out of the workload. They still take pg_stat_statements rows: about a hundred on a first run, none on later runs. With the privilege below its sessions record nothing.",
				SQL:    fmt.Sprintf("GRANT SET ON PARAMETER pg_stat_statements.track TO %s;", quote.Ident(s.User))}
		} else {
			observed += "; only a superuser may stop that before PostgreSQL 15"
		}
	}
	add("leaves pg_stat_statements untouched", observed, f)
}

// checkEvictions: pg_stat_statements evicted nothing since its reset.
func checkEvictions(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	if s.PGSSDealloc >= 0 {
		if s.PGSSDealloc > 0 {
			f = &finding.Finding{Rule: "check.pg_stat_statements.evictions", Kind: finding.KindPrerequisite, Severity: finding.SeverityLow,
				Title:    fmt.Sprintf("pg_stat_statements evicted %d entries since its last reset", s.PGSSDealloc),
				Detail:   "More distinct statements ran than pg_stat_statements.max keeps; rarely run statements lose their statistics and totals are understated.",
				Evidence: finding.Facts("dealloc", fmt.Sprint(s.PGSSDealloc), "pg_stat_statements.max", fmt.Sprint(s.PGSSMax)),
				SQL:      fmt.Sprintf("ALTER SYSTEM SET pg_stat_statements.max = %d;", max(2*s.PGSSMax, 10000)), Action: "restart PostgreSQL"}
		}
		add("no pg_stat_statements evictions", fmt.Sprintf("%d evicted (max %d)", s.PGSSDealloc, s.PGSSMax), f)
	}
}

// checkTrackIOTiming: track_io_timing is on.
func checkTrackIOTiming(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	if s.TrackIOTiming != "on" {
		f = &finding.Finding{Rule: "check.track_io_timing.off", Kind: finding.KindPrerequisite, Severity: finding.SeverityLow,
			Title:    "track_io_timing is off",
			Detail:   "Without it pg_stat_statements cannot tell time spent reading from disk apart from CPU time. Its overhead is small on most platforms (check with pg_test_timing).",
			Evidence: finding.Facts("track_io_timing", s.TrackIOTiming),
			SQL:      "ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();"}
	}
	add("track_io_timing on", s.TrackIOTiming, f)
}

// checkHypoPG: HypoPG is there for what-if indexes.
func checkHypoPG(s *State, add func(name, observed string, f *finding.Finding)) {
	var f *finding.Finding
	var observed string
	switch {
	case !s.HypoPGAvailable:
		observed = "not available on this server"
		f = &finding.Finding{Rule: "check.hypopg.not_available", Kind: finding.KindPrerequisite, Severity: finding.SeverityMedium,
			Title:  "HypoPG is not available, so index advice cannot be proven with the planner",
			Detail: "pgtune proves each index it recommends by planning the workload with a hypothetical index (HypoPG). Without it, index advice rests on statistics alone and is marked unproven.",
			Action: fmt.Sprintf("install HypoPG (e.g. apt-get install postgresql-%d-hypopg), then: CREATE EXTENSION hypopg;", s.ServerVersionNum/10000)}
	case s.HypoPGInstalled == "":
		observed = "available, not created in database " + s.Database
		f = &finding.Finding{Rule: "check.hypopg.not_created", Kind: finding.KindPrerequisite, Severity: finding.SeverityLow,
			Title:  "HypoPG is available but not created in database " + s.Database,
			Detail: "pgtune's read-only commands do not create extensions themselves. HypoPG's hypothetical indexes live only in the session that makes them.",
			SQL:    "CREATE EXTENSION hypopg;"}
	default:
		observed = "version " + s.HypoPGInstalled
	}
	add("HypoPG for what-if indexes", observed, f)
}

// PlannerGrant is the grant that lets user EXPLAIN the workload: pg_read_all_data on 14+ (all
// tables, now and later), else SELECT on each schema's tables.
func PlannerGrant(user string, versionNum int) string {
	if versionNum >= 140000 {
		return fmt.Sprintf("GRANT pg_read_all_data TO %s;  -- or, per schema: GRANT SELECT ON ALL TABLES IN SCHEMA <schema> TO %s;", quote.Ident(user), quote.Ident(user))
	}
	return fmt.Sprintf("GRANT SELECT ON ALL TABLES IN SCHEMA <schema> TO %s;  -- for each schema the workload reads", quote.Ident(user))
}

// Findings returns the failed checks' findings.
func Findings(checks []Check) []finding.Finding {
	var out []finding.Finding
	for _, c := range checks {
		if c.Finding != nil {
			out = append(out, *c.Finding)
		}
	}
	return out
}

func majorMinor(v string) (int, int) {
	var a, b int
	fmt.Sscanf(v, "%d.%d", &a, &b)
	return a, b
}

func quoteOrEmpty(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(empty)"
	}
	return s
}
