package model

import (
	"fmt"
	"strings"
)

// Severity ranks a finding. The order matters: --fail-on compares against it, and reports sort by it.
type Severity int

// Severities, least to most serious.
const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the lower-case name used on the command line and in JSON.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name (case-insensitive).
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", name, strings.Join(severityNames[:], ", "))
}

// MarshalText makes a Severity a JSON string such as "high".
func (s Severity) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one thing pgtune says about a database: what is wrong, why it believes so, and the
// exact SQL or setting that fixes it.
type Finding struct {
	// Rule is a stable identifier of the check that produced the finding, e.g.
	// "check.pg_stat_statements.not_preloaded". Scripts may match on it.
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Title is a one-line summary.
	Title string `json:"title"`
	// Detail explains the problem and its consequences.
	Detail string `json:"detail,omitempty"`
	// Evidence holds the observations the finding rests on (settings, statistics, costs).
	Evidence []Evidence `json:"evidence,omitempty"`
	// Fix is the exact SQL statement or setting to apply; empty when there is nothing to run.
	Fix string `json:"fix,omitempty"`
}

// Evidence is one observation behind a finding.
type Evidence struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// FailOn is the --fail-on threshold: findings at or above it make the command exit with 1.
// The zero value (Enabled false) never fails.
type FailOn struct {
	Enabled bool
	Min     Severity
}

// ParseFailOn reads "none" or a severity name.
func ParseFailOn(s string) (FailOn, error) {
	if strings.EqualFold(s, "none") || s == "" {
		return FailOn{}, nil
	}
	sev, err := ParseSeverity(s)
	if err != nil {
		return FailOn{}, fmt.Errorf("unknown --fail-on level %q (want none, %s)", s, strings.Join(severityNames[:], ", "))
	}
	return FailOn{Enabled: true, Min: sev}, nil
}

// String returns the flag form ("none", "high", ...).
func (f FailOn) String() string {
	if !f.Enabled {
		return "none"
	}
	return f.Min.String()
}

// Trips reports whether any finding is at or above the threshold.
func (f FailOn) Trips(findings []Finding) bool {
	if !f.Enabled {
		return false
	}
	for _, fd := range findings {
		if fd.Severity >= f.Min {
			return true
		}
	}
	return false
}
