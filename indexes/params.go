package indexes

import (
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/workload"
)

// Representative picks a value for each $n parameter of a statement from pg_stats, so the planner
// can also be asked for a custom plan with realistic constants: a generic plan judges every range
// by default selectivities (a third of the table for start_time >= $1), which hides what a
// range index is worth. The choices:
//   - equality or IN: the most common value (or a middle histogram bound);
//   - a range pair (col >= $a AND col < $b, BETWEEN $a AND $b): two adjacent histogram bounds in the
//     middle, about 1 % of the rows, like one day of a year;
//   - a single bound: the histogram's 90th percentile for > and >=, its 10th for < and <=;
//   - a LIKE pattern: a common value's first three characters and %;
//   - LIMIT 10, OFFSET 0.
//
// A condition on a wrapped column (start_time + make_interval(...) > $2, lower(email) =
// lower($2)) takes the column's values too: the domain is the same (a value of the wrong type
// only loses that custom plan).
//
// ok is false when a parameter of a condition has no representative (a column without
// statistics): the statement is then priced on its generic plan alone. Parameters outside the
// conditions (an UPDATE's new value, the $n pg_stat_statements puts for SELECT 1 in an EXISTS or
// a coalesce default) are NULL (NullParam), as are any the prepared statement has beyond the
// last one the model sees: NULL there changes no row count, where in a condition it would fold
// the plan to one that reads nothing.
func Representative(st *workload.Statement, cat *dbstate.Catalog) (values []string, ok bool) {
	n := 0
	inCondition := map[int]bool{}
	note := func(ps []int) {
		for _, p := range ps {
			n = max(n, p)
			inCondition[p] = true
		}
	}
	for _, p := range st.Predicates {
		if p.Value != nil {
			note(p.Value.Params)
		}
	}
	for _, b := range []*workload.Bound{st.Limit, st.Offset} {
		if b != nil && b.Param > 0 {
			n = max(n, b.Param)
		}
	}
	if n == 0 {
		return nil, false
	}
	values = make([]string, n)
	set := func(k int, v string) {
		if k >= 1 && k <= n && values[k-1] == "" {
			values[k-1] = v
		}
	}
	if st.Limit != nil && st.Limit.Param > 0 {
		set(st.Limit.Param, "10")
	}
	if st.Offset != nil && st.Offset.Param > 0 {
		set(st.Offset.Param, "0")
	}
	// Ranges first: a pair on one column takes adjacent bounds.
	type bounds struct{ lower, upper []int }
	ranges := map[string]*bounds{}
	var order []string
	for _, p := range st.Predicates {
		if p.Value == nil || len(p.Value.Params) == 0 {
			continue
		}
		key := p.Column.String()
		r := ranges[key]
		if r == nil {
			r = &bounds{}
		}
		switch {
		case p.Op == workload.OpBetween && len(p.Value.Params) == 2:
			r.lower, r.upper = append(r.lower, p.Value.Params[0]), append(r.upper, p.Value.Params[1])
		case p.Op == workload.OpRange && (p.Operator == ">" || p.Operator == ">="):
			r.lower = append(r.lower, p.Value.Params...)
		case p.Op == workload.OpRange && (p.Operator == "<" || p.Operator == "<="):
			r.upper = append(r.upper, p.Value.Params...)
		default:
			continue
		}
		if ranges[key] == nil {
			ranges[key] = r
			order = append(order, key)
		}
	}
	for _, key := range order {
		r := ranges[key]
		hist := histogram(cat, key)
		if len(hist) < 3 {
			continue
		}
		mid := len(hist) / 2
		switch {
		case len(r.lower) > 0 && len(r.upper) > 0:
			for _, k := range r.lower {
				set(k, hist[mid])
			}
			for _, k := range r.upper {
				set(k, hist[mid+1])
			}
		case len(r.lower) > 0:
			for _, k := range r.lower {
				set(k, hist[len(hist)*9/10])
			}
		default:
			for _, k := range r.upper {
				set(k, hist[len(hist)/10])
			}
		}
	}
	for _, p := range st.Predicates {
		if p.Value == nil || len(p.Value.Params) == 0 {
			continue
		}
		v, has := typical(cat, p.Column.String())
		if !has {
			continue
		}
		switch p.Op {
		case workload.OpEq:
			for _, k := range p.Value.Params {
				set(k, v)
			}
		case workload.OpIn:
			if p.Value.Kind == workload.OperandParam { // = ANY($1): an array
				set(p.Value.Params[0], "{"+strings.ReplaceAll(v, ",", `\,`)+"}")
			} else {
				for _, k := range p.Value.Params {
					set(k, v)
				}
			}
		case workload.OpLikeParam, workload.OpLikePrefix:
			prefix := []rune(v)
			set(p.Value.Params[0], string(prefix[:min(3, len(prefix))])+"%")
		}
	}
	for i, v := range values {
		if v == "" && !inCondition[i+1] && (st.Limit == nil || st.Limit.Param != i+1) && (st.Offset == nil || st.Offset.Param != i+1) {
			values[i] = NullParam
		}
	}
	if slices.Contains(values, "") {
		return nil, false
	}
	return values, true
}

// NullParam stands for SQL NULL among representative values (pg_stats' text never holds a NUL
// byte, so no real value is mistaken for it).
const NullParam = "\x00"

// Skew tuning: a column of at most SkewMaxDistinct values whose most common value is at least
// SkewRatio times as frequent as its rarest gets a custom plan per common value (at most
// SkewValues of them) and one for an uncommon value.
const (
	SkewMaxDistinct = 20
	SkewRatio       = 2.0
	SkewValues      = 5
)

// RepresentativeSets is Representative, with variants for one skewed, low-cardinality equality
// column (status = $1): the value an application binds to such a column is seldom its most common
// one (a queue poller asks for the 2 % of rows still 'pending', not the 90 % 'sent'), and an index
// that is worthless for the common value is what the rare one needs. So the column takes each
// common value in turn and one uncommon value, and the statement is priced over all of them.
// An IN list of parameters on such a column takes distinct values, a run of them.
func RepresentativeSets(st *workload.Statement, cat *dbstate.Catalog) [][]string {
	base, ok := Representative(st, cat)
	if !ok {
		return nil
	}
	// The skewed column: the one of fewest distinct values among the equality and IN-list
	// parameters (status = $1, status IN ($4, $5)).
	var pick *dbstate.ColumnStat
	var params []int
	for _, p := range st.Predicates {
		if p.Op != workload.OpEq && p.Op != workload.OpIn || p.Wrapper != nil || p.Value == nil || len(p.Value.Params) == 0 ||
			p.Value.Kind == workload.OperandParam && p.Op == workload.OpIn || p.Op == workload.OpEq && len(p.Value.Params) != 1 {
			continue
		}
		cs := cat.ColumnStat(p.Column.Table, p.Column.Column)
		if cs == nil || len(cs.MostCommonVals) < 2 || len(cs.MostCommonVals) != len(cs.MostCommonFreqs) || cs.NDistinct <= 0 || cs.NDistinct > SkewMaxDistinct {
			continue
		}
		if cs.MostCommonFreqs[0] < SkewRatio*cs.MostCommonFreqs[len(cs.MostCommonFreqs)-1] {
			continue
		}
		if pick == nil || cs.NDistinct < pick.NDistinct {
			pick, params = cs, p.Value.Params
		}
	}
	if pick == nil {
		return [][]string{base}
	}
	// Each set gives the column's parameters a run of distinct common values (an IN list asks for
	// several different ones), starting at each common value in turn.
	mcv := pick.MostCommonVals
	var sets [][]string
	variant := func(vals func(j int) string) {
		s := slices.Clone(base)
		for j, k := range params {
			if k >= 1 && k <= len(s) {
				s[k-1] = vals(j)
			}
		}
		sets = append(sets, s)
	}
	for i := range min(len(mcv), SkewValues) {
		variant(func(j int) string { return mcv[(i+j)%len(mcv)] })
	}
	mcvTotal := 0.0
	for _, f := range pick.MostCommonFreqs {
		mcvTotal += f
	}
	switch {
	case mcvTotal+pick.NullFrac < 0.999 && len(pick.HistogramBounds) > 0:
		// Values outside the common ones.
		h := pick.HistogramBounds
		variant(func(j int) string { return h[(len(h)/2+j)%len(h)] })
	case len(mcv) > SkewValues:
		// The rarest common values.
		variant(func(j int) string { return mcv[len(mcv)-1-j%len(mcv)] })
	}
	return sets
}

// histogram returns a column's histogram bounds ("schema.table.column").
func histogram(cat *dbstate.Catalog, column string) []string {
	i := strings.LastIndexByte(column, '.')
	if i < 0 {
		return nil
	}
	if cs := cat.ColumnStat(column[:i], column[i+1:]); cs != nil {
		return cs.HistogramBounds
	}
	return nil
}

// typical is a value the column often holds: its most common value, else a middle histogram
// bound.
func typical(cat *dbstate.Catalog, column string) (string, bool) {
	i := strings.LastIndexByte(column, '.')
	if i < 0 {
		return "", false
	}
	cs := cat.ColumnStat(column[:i], column[i+1:])
	switch {
	case cs == nil:
		return "", false
	case len(cs.MostCommonVals) > 0:
		return cs.MostCommonVals[0], true
	case len(cs.HistogramBounds) > 0:
		return cs.HistogramBounds[len(cs.HistogramBounds)/2], true
	}
	return "", false
}
