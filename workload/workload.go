package workload

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/bookedbarber/pgtune/dbstate"
)

// Workload is what a database runs, statement by statement: pg_stat_statements rows merged by
// fingerprint (rows whose queryids differ but whose shapes match are one statement), each with
// its typed model, plus how each table is reached. The analysers read it; the advisor builds it.
type Workload struct {
	// Statements are sorted by total execution time, most first.
	Statements []*Entry `json:"statements"`
	// TotalExecMs and TotalCalls sum every visible row (modelled or not).
	TotalExecMs float64 `json:"total_exec_ms"`
	TotalCalls  int64   `json:"total_calls"`
	// Unmodelled counts the statements whose text could not be modelled, by reason.
	Unmodelled []ProblemCount `json:"unmodelled,omitempty"`
	// Tables describes how the workload reaches each table, busiest first.
	Tables []*TableAccess `json:"tables"`
}

// ProblemCount is how many statements (and how much of the workload) share a text problem.
type ProblemCount struct {
	Problem    TextProblem `json:"problem"`
	Statements int         `json:"statements"`
	Calls      int64       `json:"calls"`
	TimeShare  float64     `json:"time_share"`
}

// Entry is one statement of the workload.
type Entry struct {
	// Fingerprint identifies the statement; for a text that could not be parsed it is
	// "unparsed-" followed by the first queryid.
	Fingerprint string            `json:"fingerprint"`
	QueryIDs    []dbstate.QueryID `json:"queryids"`
	// Query is the text of the busiest merged row (normalised: constants are $n).
	Query string `json:"query"`
	Calls int64  `json:"calls"`
	// TotalExecMs, Rows and the block counts sum the merged rows.
	TotalExecMs    float64 `json:"total_exec_ms"`
	MeanExecMs     float64 `json:"mean_exec_ms"`
	MaxExecMs      float64 `json:"max_exec_ms"`
	Rows           int64   `json:"rows"`
	SharedBlksHit  int64   `json:"shared_blks_hit"`
	SharedBlksRead int64   `json:"shared_blks_read"`
	TempBlks       int64   `json:"temp_blks"`
	WalBytes       float64 `json:"wal_bytes"`
	// TimeShare is TotalExecMs over the workload's total (0..1).
	TimeShare float64 `json:"time_share"`
	// Toplevel is false when every merged row ran inside a function.
	Toplevel bool `json:"toplevel"`
	// Nodes says where the statement ran when the snapshot holds replicas: each node's calls
	// and time ("primary", or a replica's name), the busiest first. Empty for one server.
	Nodes []NodeUse `json:"nodes,omitempty"`

	// Model is the statement's typed model; nil when Problem is set.
	Model *Statement `json:"model,omitempty"`
	// ModelSource is "pg_stat_statements" (the normalised text, every constant a $n) or "sample"
	// (a text seen in pg_stat_activity, whose literal constants are the application's own).
	ModelSource string `json:"model_source,omitempty"`
	// Variants are further sampled texts of the same statement with other literal constants
	// (the application sends phone LIKE '%' || $1 in one place and phone LIKE $1 || '%' in
	// another; pg_stat_statements counts them as one).
	Variants []*Statement `json:"-"`
	// Texts are what to plan the statement with: the sampled texts (the model's first, then
	// the variants'), which carry the application's literal constants, or else Query.
	Texts []string `json:"-"`
	// ReadTexts are the Texts as statements that only read ("" where a text already does), for
	// a role the planner refuses the writing form to (query.ReadForm).
	ReadTexts     []string    `json:"-"`
	Problem       TextProblem `json:"problem,omitempty"`
	ProblemDetail string      `json:"problem_detail,omitempty"`
	// System is set for statements on the system catalogs only (monitoring tools, pg_dump,
	// psql's \d): counted in the totals, never advised on.
	System bool `json:"system,omitempty"`
}

// Models returns the statement's model followed by its sampled variants.
func (s *Entry) Models() []*Statement {
	if s.Model == nil {
		return nil
	}
	return append([]*Statement{s.Model}, s.Variants...)
}

// RowsPerCall is the mean number of rows a call returns or changes.
func (s *Entry) RowsPerCall() float64 {
	if s.Calls == 0 {
		return 0
	}
	return float64(s.Rows) / float64(s.Calls)
}

// TableAccess summarises how the workload reaches one table.
type TableAccess struct {
	// Table is the catalog's "schema.name" when known, else the name as written.
	Table string `json:"table"`
	// Known is false for a table the catalog does not have (a temporary table, or a snapshot
	// that lacks it).
	Known      bool    `json:"known"`
	Statements int     `json:"statements"`
	Calls      int64   `json:"calls"`
	TimeShare  float64 `json:"time_share"`
	ReadCalls  int64   `json:"read_calls"`
	WriteCalls int64   `json:"write_calls"`
	// Columns lists the columns statements filter, join, sort or group on, busiest first.
	Columns []*ColumnAccess `json:"columns,omitempty"`
	// Written are the columns UPDATEs set (each breaks HOT updates when indexed).
	Written []string `json:"written,omitempty"`
}

// ColumnAccess is how statements use one column of a table. Each count is weighted by calls.
type ColumnAccess struct {
	Column string `json:"column"`
	// Ops counts calls by predicate class ("eq", "range", "like_leading_wildcard", ...); a
	// column inside an expression counts as "inside date()", "inside ::date" or "inside +
	// arithmetic" instead.
	Ops     map[string]int64 `json:"ops,omitempty"`
	Joins   int64            `json:"joins,omitempty"`
	OrderBy int64            `json:"order_by,omitempty"`
	GroupBy int64            `json:"group_by,omitempty"`
	// Calls is the number of calls that use the column in any of these ways.
	Calls int64 `json:"calls"`
}

// NodeUse is a statement's calls and time on one node of a cluster.
type NodeUse struct {
	Node        string  `json:"node"`
	Calls       int64   `json:"calls"`
	TotalExecMs float64 `json:"total_exec_ms"`
}

// Describe renders a column's uses for the report: "eq 1200, range 300, order 40".
func (ca *ColumnAccess) Describe() string {
	type use struct {
		name  string
		calls int64
	}
	var uses []use
	for op, n := range ca.Ops {
		uses = append(uses, use{op, n})
	}
	for _, u := range []use{{"join", ca.Joins}, {"order by", ca.OrderBy}, {"group by", ca.GroupBy}} {
		if u.calls > 0 {
			uses = append(uses, u)
		}
	}
	slices.SortFunc(uses, func(a, b use) int {
		if c := cmp.Compare(b.calls, a.calls); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	s := ""
	for i, u := range uses {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %s", u.name, compactCount(u.calls))
	}
	return s
}

// compactCount prints 1234567 as 1.2M.
func compactCount(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%dk", n/1000)
	case n >= 1000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}
