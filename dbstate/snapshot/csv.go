package snapshot

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
)

// CSVExportHint is how to make the export ReadStatementsCSV reads.
const CSVExportHint = `psql -d DB -c "\copy (SELECT * FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) TO 'statements.csv' CSV HEADER"`

// ReadStatementsCSV reads a pg_stat_statements export with a header row (psql's \copy ... CSV
// HEADER, or any tool's export with the view's column names). It needs query, calls and
// total_exec_time (total_time before PostgreSQL 13); the other counters are read when present.
// Rows of several databases are refused: their statements would mix.
func ReadStatementsCSV(r io.Reader) (*dbstate.Statements, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cols, err := readCSVHeader(cr)
	if err != nil {
		return nil, err
	}
	out := &dbstate.Statements{Dealloc: -1}
	dbs := map[string]bool{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the statements CSV does not parse at line %d: %w", line, err)
		}
		row, db, hidden, err := cols.row(rec, line)
		if err != nil {
			return nil, err
		}
		if db != "" {
			dbs[db] = true
		}
		switch {
		case hidden:
			// Another role's statement, its text and queryid hidden from the exporting role.
			out.Hidden++
			out.HiddenCalls += row.Calls
			out.HiddenMs += row.TotalExecMs
		case strings.HasPrefix(row.Query, "/* pgtune */"):
			out.Own++
		default:
			out.Rows = append(out.Rows, row)
		}
	}
	if len(dbs) > 1 {
		ids := slices.Sorted(maps.Keys(dbs))
		return nil, fmt.Errorf("the statements CSV holds rows of %d databases (dbid %s); export one database's rows: %s",
			len(dbs), strings.Join(ids, ", "), CSVExportHint)
	}
	return out, nil
}

// csvColumns are where an export's header puts the columns pgtune reads (-1: absent).
type csvColumns struct {
	header                      []string
	query, calls, total         int
	queryID, db, toplevel, user int
	counters                    []int // by csvCounters
}

// csvCounters are the optional counters, each under its names (the newest first).
var csvCounters = []struct {
	names []string
	set   func(*dbstate.StatementRow, float64)
}{
	{[]string{"min_exec_time", "min_time"}, func(s *dbstate.StatementRow, v float64) { s.MinExecMs = v }},
	{[]string{"max_exec_time", "max_time"}, func(s *dbstate.StatementRow, v float64) { s.MaxExecMs = v }},
	{[]string{"mean_exec_time", "mean_time"}, func(s *dbstate.StatementRow, v float64) { s.MeanExecMs = v }},
	{[]string{"stddev_exec_time", "stddev_time"}, func(s *dbstate.StatementRow, v float64) { s.StddevExecMs = v }},
	{[]string{"rows"}, func(s *dbstate.StatementRow, v float64) { s.Rows = int64(v) }},
	{[]string{"plans"}, func(s *dbstate.StatementRow, v float64) { s.Plans = int64(v) }},
	{[]string{"total_plan_time"}, func(s *dbstate.StatementRow, v float64) { s.TotalPlanMs = v }},
	{[]string{"shared_blks_hit"}, func(s *dbstate.StatementRow, v float64) { s.SharedBlksHit = int64(v) }},
	{[]string{"shared_blks_read"}, func(s *dbstate.StatementRow, v float64) { s.SharedBlksRead = int64(v) }},
	{[]string{"shared_blks_dirtied"}, func(s *dbstate.StatementRow, v float64) { s.SharedBlksDirt = int64(v) }},
	{[]string{"shared_blks_written"}, func(s *dbstate.StatementRow, v float64) { s.SharedBlksWrit = int64(v) }},
	{[]string{"temp_blks_read"}, func(s *dbstate.StatementRow, v float64) { s.TempBlksRead = int64(v) }},
	{[]string{"temp_blks_written"}, func(s *dbstate.StatementRow, v float64) { s.TempBlksWrit = int64(v) }},
	{[]string{"shared_blk_read_time", "blk_read_time"}, func(s *dbstate.StatementRow, v float64) { s.BlkReadMs = v }},
	{[]string{"shared_blk_write_time", "blk_write_time"}, func(s *dbstate.StatementRow, v float64) { s.BlkWriteMs = v }},
	{[]string{"wal_bytes"}, func(s *dbstate.StatementRow, v float64) { s.WalBytes = v }},
}

// readCSVHeader reads the header row and finds the columns; the three pgtune needs must be there.
func readCSVHeader(cr *csv.Reader) (*csvColumns, error) {
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the statements CSV is empty; export it with: %s", CSVExportHint)
		}
		return nil, fmt.Errorf("the statements CSV does not parse: %w", err)
	}
	header = slices.Clone(header) // the reader reuses its record
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	pick := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	c := &csvColumns{header: header, query: pick("query"), calls: pick("calls"), total: pick("total_exec_time", "total_time"),
		queryID: pick("queryid"), db: pick("dbid"), toplevel: pick("toplevel"), user: pick("userid", "rolname", "user")}
	var missing []string
	for name, i := range map[string]int{"query": c.query, "calls": c.calls, "total_exec_time": c.total} {
		if i < 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sortStrings(missing)
		return nil, fmt.Errorf("the statements CSV lacks column(s) %s (its header has: %s); export the whole view with: %s",
			strings.Join(missing, ", "), strings.Join(header, ", "), CSVExportHint)
	}
	for _, k := range csvCounters {
		c.counters = append(c.counters, pick(k.names...))
	}
	return c, nil
}

// row reads one record (at line) into a statement row, and the database it belongs to; hidden
// is a row whose queryid or text the exporting role could not see.
func (c *csvColumns) row(rec []string, line int) (row dbstate.StatementRow, db string, hidden bool, err error) {
	get := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return rec[i]
	}
	if len(rec) < len(c.header) {
		return row, "", false, fmt.Errorf("the statements CSV's line %d has %d fields, its header %d", line, len(rec), len(c.header))
	}
	num := func(name string, i int) (float64, error) {
		s := strings.TrimSpace(get(i))
		if s == "" {
			return 0, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("the statements CSV's line %d: %s is %q, not a count", line, name, s)
		}
		return v, nil
	}
	row.Query = get(c.query)
	calls, err := num("calls", c.calls)
	if err != nil {
		return row, "", false, err
	}
	row.Calls = int64(calls)
	if row.TotalExecMs, err = num("total_exec_time", c.total); err != nil {
		return row, "", false, err
	}
	for i, k := range csvCounters {
		if c.counters[i] < 0 {
			continue
		}
		v, err := num(k.names[0], c.counters[i])
		if err != nil {
			return row, "", false, err
		}
		k.set(&row, v)
	}
	row.Toplevel = get(c.toplevel) != "f" && get(c.toplevel) != "false"
	row.User = get(c.user)
	qid := strings.TrimSpace(get(c.queryID))
	if qid == "" || row.Query == "<insufficient privilege>" {
		return row, get(c.db), true, nil
	}
	id, err := strconv.ParseInt(qid, 10, 64)
	if err != nil {
		return row, "", false, fmt.Errorf("the statements CSV's line %d: queryid %q is not a number", line, qid)
	}
	row.QueryID = dbstate.QueryID(id)
	return row, get(c.db), false, nil
}

func sortStrings(s []string) { slices.Sort(s) }
