package maintenance

import (
	"fmt"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
)

// Findings are the plan's urgent parts as advisor findings: tables close to a forced
// anti-wraparound vacuum, tables autovacuum has fallen behind on (with their estimated bloat), and
// whatever holds back the xmin horizon. Statistics (analyse) needs are the health analyser's.
func Findings(snap *dbstate.Snapshot) []finding.Finding {
	p := Build(snap, Options{})
	var out []finding.Finding
	for _, a := range p.Actions {
		sql := Statement(&a, p.ServerVersion, RunOptions{}) + ";"
		var ev finding.Evidence
		for _, r := range a.Reasons {
			ev = append(ev, finding.Fact{Name: r.Rule, Value: r.Text})
		}
		ev = append(ev, finding.Fact{Name: "size_bytes", Value: a.Bytes}, finding.Fact{Name: "estimate", Value: a.Estimate.Round(1e6).String()})
		switch {
		case a.Has(OpFreeze):
			out = append(out, finding.Finding{Rule: "maintenance.wraparound", Kind: finding.KindMaintenance, Severity: a.Severity, Table: a.Table,
				Title:    fmt.Sprintf("%s: %s", a.Table, a.Reasons[0].Text),
				Detail:   "At autovacuum_freeze_max_age PostgreSQL forces an anti-wraparound vacuum of the table, whatever the time of day and however busy the table; freezing it now, in a maintenance window, avoids that.",
				Evidence: ev, SQL: sql, Action: "or let pgtune maintain run do it in tonight's window", Impact: float64(a.Urgency) / 10000})
		case a.Has(OpVacuum) && a.Reasons[0].Rule == "dead_tuples" && a.Severity >= finding.SeverityMedium:
			ev = append(ev, finding.Fact{Name: "dead_tuples", Value: a.DeadTuples}, finding.Fact{Name: "estimated_bloat", Value: finding.Round(a.EstimatedBloat, 3)})
			out = append(out, finding.Finding{Rule: "maintenance.vacuum_overdue", Kind: finding.KindMaintenance, Severity: a.Severity, Table: a.Table,
				Title:    fmt.Sprintf("%s: %d dead rows, %.0f %% of the table, far past autovacuum's trigger", a.Table, a.DeadTuples, a.EstimatedBloat*100),
				Detail:   "Dead rows slow every scan of the table and bloat its indexes. Autovacuum is behind on it: it is off for the table, its workers are busy elsewhere, or it is throttled too hard.",
				Evidence: ev, SQL: sql, Action: "or pgtune maintain run; pgtune config --dsn sizes autovacuum's workers and cost limit", Impact: a.EstimatedBloat})
		}
	}
	for _, b := range snap.Blockers {
		sev := finding.SeverityLow
		switch share := float64(b.XIDAge) / float64(max(p.FreezeMaxAge, 1)); {
		case share >= 0.5:
			sev = finding.SeverityHigh
		case share >= 0.1:
			sev = finding.SeverityMedium
		}
		fix := map[string]string{
			"session":              "end it if it is stuck: SELECT pg_terminate_backend(<pid>); and set idle_in_transaction_session_timeout",
			"prepared_transaction": "COMMIT PREPARED or ROLLBACK PREPARED it (see detail)",
			"replication_slot":     "catch its consumer up, or drop the slot if the consumer is gone",
			"replica_feedback":     "end the replica's long query, or set hot_standby_feedback = off on it (its queries may then be cancelled by replay instead)",
		}[b.Kind]
		out = append(out, finding.Finding{Rule: "maintenance.xmin_horizon", Kind: finding.KindMaintenance, Severity: sev,
			Title:    fmt.Sprintf("%s %s holds back VACUUM: its xmin is %d transactions old", strings.ReplaceAll(b.Kind, "_", " "), b.Name, b.XIDAge),
			Detail:   "VACUUM can neither remove dead rows nor freeze past the oldest xmin any session, prepared transaction or replication slot holds: bloat grows and wraparound comes closer however often vacuum runs.",
			Evidence: finding.Facts("kind", b.Kind, "name", b.Name, "xid_age", b.XIDAge, "detail", b.Detail), Action: fix})
	}
	return out
}
