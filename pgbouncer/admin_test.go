package pgbouncer

import (
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/finding"
)

func TestAdminFindings(t *testing.T) {
	st := &AdminState{
		Version: "PgBouncer 1.18.0",
		Pools: []Row{
			{"database": "booking", "user": "app", "cl_active": "50", "cl_waiting": "850", "sv_active": "4", "sv_idle": "0", "maxwait": "12", "maxwait_us": "500000", "pool_mode": "transaction"},
			{"database": "reports", "user": "app", "cl_active": "4", "cl_waiting": "0", "sv_active": "4", "sv_idle": "0", "maxwait": "0", "pool_mode": "transaction"},
			{"database": "pgbouncer", "user": "pgbouncer", "cl_active": "1", "cl_waiting": "0", "sv_active": "0"},
		},
		Stats: []Row{
			{"database": "booking", "avg_wait_time": "1500000", "avg_xact_time": "2000", "avg_xact_count": "900"},
			{"database": "reports", "avg_wait_time": "200"},
		},
		Config: map[string]string{"query_wait_timeout": "20", "default_pool_size": "4", "max_client_conn": "1000", "listen_backlog": "128"},
	}
	rendered := render(t, instance(), options())
	fs := Findings(st, rendered)
	want := []struct {
		rule string
		sev  finding.Severity
		text string
	}{
		{"pgbouncer.clients_waiting", finding.SeverityHigh, "850 clients waiting"}, // 12.5 s ≥ half of 20 s
		{"pgbouncer.pool_saturated", finding.SeverityLow, "reports/app"},
		{"pgbouncer.wait_time", finding.SeverityHigh, "1500 ms"},
		{"pgbouncer.clients_near_limit", finding.SeverityHigh, "904 of max_client_conn 1000"},
		{"pgbouncer.differs", finding.SeverityLow, "listen_backlog"},
	}
	if len(fs) != len(want) {
		t.Errorf("%d findings, want %d: %v", len(fs), len(want), fs)
	}
	for _, w := range want {
		found := false
		for _, f := range fs {
			if f.Rule == w.rule && f.Severity == w.sev && strings.Contains(f.Title, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s (%v) mentioning %q in %v", w.rule, w.sev, w.text, fs)
		}
	}
}
