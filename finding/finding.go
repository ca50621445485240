package finding

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/workload"
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

// Kind groups findings by what they are about.
type Kind string

// Finding kinds.
const (
	KindPrerequisite Kind = "prerequisite" // what pgtune needs from the server (pgtune check)
	KindIndex        Kind = "index"        // indexes to create, drop or rebuild
	KindRewrite      Kind = "rewrite"      // query rewrites
	KindStatistics   Kind = "statistics"   // planner statistics and pg_stat_statements health
	KindSettings     Kind = "settings"     // server settings
	KindMaintenance  Kind = "maintenance"  // VACUUM, ANALYZE, bloat, wraparound
	KindReplication  Kind = "replication"  // replicas: lag, slots, recovery conflicts, settings they must match
)

// Finding is one thing pgtune says about a database: what is wrong, why it believes so, and the
// exact SQL or setting that fixes it.
type Finding struct {
	// Rule is a stable identifier of the check that produced the finding, e.g.
	// "audit.index.duplicate". Scripts may match on it.
	Rule     string   `json:"rule"`
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	// Table is the table the finding concerns ("schema.name"), if one.
	Table string `json:"table,omitempty"`
	// Title is a one-line summary.
	Title string `json:"title"`
	// Detail explains the problem and its consequences.
	Detail string `json:"detail,omitempty"`
	// Evidence holds the observations the finding rests on (settings, statistics, sizes, costs),
	// in the order a person should read them; JSON renders it as an object.
	Evidence Evidence `json:"evidence,omitempty"`
	// Statements are the workload statements the finding concerns, with their numbers.
	Statements []StatementEvidence `json:"statements,omitempty"`
	// SQL is the exact SQL to run; Action says what to do when the fix is not (only) SQL: a
	// setting to change and restart, a package to install, a code change.
	SQL    string `json:"sql,omitempty"`
	Action string `json:"action,omitempty"`
	// Index describes the index the finding creates or drops.
	Index *IndexSpec `json:"index,omitempty"`
	// Impact orders findings of the same severity: the share (0..1) of the workload's execution
	// time the finding concerns, or of the database's size it would reclaim.
	Impact float64 `json:"impact"`
	// NeedsLivePlanner marks a finding that only a live run (with the planner) can make or prove;
	// an offline snapshot run omits or labels it.
	NeedsLivePlanner bool `json:"needs_live_planner,omitempty"`
	// Estimated marks a finding priced from statistics alone (no planner): an index
	// recommendation made offline or where HypoPG is missing.
	Estimated bool `json:"estimated,omitempty"`
}

// Fix is the finding's remedy for people: the SQL, else the action.
func (f *Finding) Fix() string {
	switch {
	case f.SQL != "" && f.Action != "":
		return f.SQL + "\n-- " + f.Action
	case f.SQL != "":
		return f.SQL
	}
	return f.Action
}

// StatementEvidence is a workload statement a finding concerns.
type StatementEvidence struct {
	Fingerprint string            `json:"fingerprint"`
	QueryIDs    []dbstate.QueryID `json:"queryids,omitempty"`
	Query       string            `json:"query"`
	Calls       int64             `json:"calls"`
	TotalExecMs float64           `json:"total_exec_ms"`
	MeanExecMs  float64           `json:"mean_exec_ms"`
	Rows        int64             `json:"rows"`
	// TimeShare is the statement's share (0..1) of the workload's total execution time.
	TimeShare float64 `json:"time_share"`
	// Nodes are its calls and time per node, when the snapshot holds replicas.
	Nodes []workload.NodeUse `json:"nodes,omitempty"`
}

// IndexSpec is an index a finding is about, structured for tools.
type IndexSpec struct {
	Schema  string   `json:"schema,omitempty"`
	Table   string   `json:"table"`
	Name    string   `json:"name,omitempty"`
	Method  string   `json:"method"`
	Columns []string `json:"columns"`
	Include []string `json:"include,omitempty"`
	Where   string   `json:"where,omitempty"`
	Unique  bool     `json:"unique,omitempty"`
}

// Evidence is an ordered list of named observations. JSON renders it as an object (names are
// unique within a finding), keeping the order.
type Evidence []Fact

// Fact is one observation. Value is a string, a number or a bool.
type Fact struct {
	Name  string
	Value any
}

// Facts builds Evidence from alternating names and values.
func Facts(pairs ...any) Evidence {
	out := make(Evidence, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Fact{Name: fmt.Sprint(pairs[i]), Value: pairs[i+1]})
	}
	return out
}

// Get returns a fact's value.
func (e Evidence) Get(name string) (any, bool) {
	for _, f := range e {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes the facts as one JSON object, in order.
func (e Evidence) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range e {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("evidence %s: %w", f.Name, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object, keeping its order. Numbers become float64.
func (e *Evidence) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		*e = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("evidence: want a JSON object")
	}
	var out Evidence
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		out = append(out, Fact{Name: name, Value: v})
	}
	*e = out
	return nil
}

// String renders the evidence for people: "name: value" lines.
func (e Evidence) String() string {
	var b strings.Builder
	for i, f := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s: %s", f.Name, FormatValue(f.Value))
	}
	return b.String()
}

// FormatValue renders an evidence value for people: integers without a decimal point, other
// numbers with up to 3 decimals.
func FormatValue(v any) string {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return FormatValue(float64(x))
	case string:
		return x
	}
	return fmt.Sprint(v)
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

// SeverityForShare grades a statement finding by the share (0..1) of the workload's execution
// time it concerns: 10 % or more is high, 2 % medium, 0.2 % low, less is info.
func SeverityForShare(share float64) Severity {
	switch {
	case share >= 0.10:
		return SeverityHigh
	case share >= 0.02:
		return SeverityMedium
	case share >= 0.002:
		return SeverityLow
	}
	return SeverityInfo
}

// StatementOf is a workload statement as a finding cites it.
func StatementOf(s *workload.Entry) StatementEvidence {
	return StatementEvidence{Fingerprint: s.Fingerprint, QueryIDs: s.QueryIDs, Query: s.Query, Calls: s.Calls,
		TotalExecMs: Round(s.TotalExecMs, 3), MeanExecMs: Round(s.MeanExecMs, 3), Rows: s.Rows, TimeShare: Round(s.TimeShare, 4), Nodes: s.Nodes}
}

// Round rounds x to the given number of decimals, for evidence and JSON that people read.
func Round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}
