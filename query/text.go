package query

import (
	"errors"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/bookedbarber/pgtune/workload"
)

// insufficientPrivilege is the text pg_stat_statements shows for other roles' statements to a
// user without pg_read_all_stats.
const insufficientPrivilege = "<insufficient privilege>"

// ParseText parses a workload text and, when it cannot, names why (never an error for bad text: a run
// over thousands of statements reports the odd unparsable one and goes on). truncateAt is the
// length at which the text's source cuts texts (track_activity_query_size for texts from
// pg_stat_activity or an export tool), 0 when unknown. detail says more about a problem.
func ParseText(text string, truncateAt int) (st *workload.Statement, problem workload.TextProblem, detail string) {
	return ParseTextWith(text, truncateAt, nil)
}

// ParseTextWith is ParseText, seeing through the given views.
func ParseTextWith(text string, truncateAt int, views *Views) (st *workload.Statement, problem workload.TextProblem, detail string) {
	switch strings.TrimSpace(text) {
	case "":
		return nil, workload.TextUnavailable, ""
	case insufficientPrivilege:
		return nil, workload.TextHidden, ""
	}
	st, err := ParseWith(text, views)
	if err == nil {
		return st, workload.TextOK, ""
	}
	if errors.Is(err, ErrNotOneStatement) {
		return nil, workload.TextNotOneStatement, err.Error()
	}
	var pe *ParseError
	if errors.As(err, &pe) && (strings.Contains(pe.Message, "end of input") || strings.Contains(pe.Message, "unterminated")) && looksCut(text, truncateAt) {
		return nil, workload.TextTruncated, err.Error()
	}
	return nil, workload.TextUnparsable, err.Error()
}

// looksCut reports whether a text that ends mid-statement was likely cut at a length limit.
func looksCut(text string, truncateAt int) bool {
	if truncateAt > 0 {
		return len(text) >= truncateAt-1
	}
	// Without the limit, PostgreSQL's default track_activity_query_size (1024) and round sizes
	// common in export tools are the tell.
	n := len(text)
	return n >= 1023 && (n%1024 >= 1022 || n%1024 == 0 || n%1000 == 0)
}

// UsesParams reports whether a statement text has $n parameters: an application that sends
// values as parameters writes only fixed constants into its SQL text.
func UsesParams(sql string) bool {
	res, err := pg_query.Scan(sql)
	if err != nil {
		return false
	}
	for _, t := range res.Tokens {
		if t.Token == pg_query.Token_PARAM {
			return true
		}
	}
	return false
}
