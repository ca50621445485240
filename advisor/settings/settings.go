// Package settings is the advisor's view of server settings: the live server's evidence
// (pgconf.Assess: requested checkpoints, temporary files, cache misses, connections, autovacuum
// lag, wraparound age) always, and, when the instance's size is known, the worst-case memory of
// the live settings and every setting that differs from what `pgtune config` renders for it,
// grouped so a DBA reads one finding per area with the exact ALTER SYSTEM statements.
package settings

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/pgconf"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Analyze returns the settings findings for snap. in is the instance's size (nil: unknown, so
// only the evidence speaks); its Version is taken from the server when zero.
func Analyze(snap *dbstate.Snapshot, in *pgconf.Instance) []finding.Finding {
	var out []finding.Finding
	for _, s := range pgconf.Assess(snap) {
		out = append(out, s.Finding())
	}
	if in == nil {
		return out
	}
	inst := *in
	if inst.Version == 0 {
		inst.Version = min(max(snap.Server.VersionNum/10000, pgconf.MinVersion), pgconf.MaxVersion)
	}
	if f := overcommit(snap, inst); f != nil {
		out = append(out, *f)
	}
	cfg, _, err := pgconf.RecommendLive(inst, snap)
	if err != nil {
		return append(out, finding.Finding{Rule: "settings.unsizable", Kind: finding.KindSettings, Severity: finding.SeverityMedium,
			Title:  "pgtune cannot size settings for this instance",
			Detail: err.Error(), Action: "adjust the instance flags (see pgtune help config)"})
	}
	if cfg.Memory.OverBy > 0 && len(cfg.Notes) > 0 {
		// The tightest configuration is still compared below; that it cannot be proven to fit
		// is a finding of its own.
		out = append(out, finding.Finding{Rule: "settings.unsizable", Kind: finding.KindSettings, Severity: finding.SeverityMedium,
			Title:    "no configuration fits this instance's memory: the worst case is over the RAM",
			Detail:   cfg.Notes[0],
			Evidence: finding.Facts("over_by_bytes", cfg.Memory.OverBy, "worst_case_bytes", cfg.Memory.WorstCase, "available_bytes", cfg.Memory.Available),
			Action:   "put PgBouncer in front (--pooler), lower the connections, or give the server more memory"})
	}
	return append(out, differences(cfg, snap)...)
}

// groupSeverity is how much a difference in each group matters when it is large.
var groupSeverity = map[string]finding.Severity{
	"memory": finding.SeverityMedium, "connections": finding.SeverityMedium, "wal": finding.SeverityLow,
	"planner": finding.SeverityLow, "parallel": finding.SeverityLow, "autovacuum": finding.SeverityLow,
	"observability": finding.SeverityLow,
}

// differences groups the settings that differ from the rendered config into one finding per
// settings group.
func differences(cfg *pgconf.Config, snap *dbstate.Snapshot) []finding.Finding {
	reasons := map[string]pgconf.Setting{}
	for _, s := range cfg.Settings {
		reasons[s.Name] = s
	}
	byGroup := map[string][]pgconf.Change{}
	var groups []string
	for _, c := range pgconf.Diff(cfg, snap) {
		if !c.Differs {
			continue
		}
		g := reasons[c.Name].Group
		if _, ok := byGroup[g]; !ok {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], c)
	}
	sort.SliceStable(groups, func(i, j int) bool { return groupSeverity[groups[i]] > groupSeverity[groups[j]] })
	var out []finding.Finding
	for _, g := range groups {
		changes := byGroup[g]
		sev := finding.SeverityInfo
		if anyFar(changes) {
			sev = groupSeverity[g]
		}
		var ev finding.Evidence
		var sql, names, restart []string
		for _, c := range changes {
			ev = append(ev, finding.Fact{Name: c.Name, Value: fmt.Sprintf("%s -> %s: %s", c.Live, c.Pgtune, reasons[c.Name].Reason)})
			sql = append(sql, fmt.Sprintf("ALTER SYSTEM SET %s = %s;", c.Name, quote.Literal(c.Pgtune)))
			names = append(names, c.Name)
			if c.Restart {
				restart = append(restart, c.Name)
			}
		}
		action := "reload (SELECT pg_reload_conf()) applies them"
		if len(restart) > 0 {
			action = "a restart applies " + strings.Join(restart, ", ") + "; a reload the rest"
		}
		out = append(out, finding.Finding{
			Rule: "settings.differs." + g, Kind: finding.KindSettings, Severity: sev,
			Title: fmt.Sprintf("%d %s setting(s) differ from pgtune config's for %s: %s", len(changes), g,
				pgconf.HumanBytes(cfg.Instance.Memory)+" / "+fmt.Sprint(cfg.Instance.CPUs)+" CPU(s)", strings.Join(names, ", ")),
			Detail:   "Each line gives the live value, pgtune's, and why. pgtune config --dsn renders the whole file with the connection and memory budgets.",
			Evidence: ev, SQL: strings.Join(sql, "\n") + "\nSELECT pg_reload_conf();", Action: action,
		})
	}
	return out
}

// far reports a change of at least 2× for numbers, or any change of a non-number.
func far(c pgconf.Change) bool {
	p, _ := pgconf.Lookup(c.Name)
	live, err1 := p.ParseValue(c.Live, "")
	want, err2 := p.ParseValue(c.Pgtune, "")
	if err1 != nil || err2 != nil || math.IsNaN(live) || math.IsNaN(want) {
		return true
	}
	if live <= 0 || want <= 0 {
		return live != want
	}
	r := live / want
	return r >= 2 || r <= 0.5
}

func anyFar(cs []pgconf.Change) bool {
	for _, c := range cs {
		if far(c) {
			return true
		}
	}
	return false
}
