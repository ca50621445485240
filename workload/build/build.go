package build

import (
	"cmp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/query"
	"github.com/bookedbarber/pgtune/workload"
)

// progressEvery is how often Workload reports the parse's progress.
var progressEvery = 250 * time.Millisecond

// addNodeUse counts a row of node's in the statement's per-node evidence.
func addNodeUse(ws *workload.Entry, node string, r *dbstate.StatementRow) {
	for i := range ws.Nodes {
		if ws.Nodes[i].Node == node {
			ws.Nodes[i].Calls += r.Calls
			ws.Nodes[i].TotalExecMs += r.TotalExecMs
			return
		}
	}
	ws.Nodes = append(ws.Nodes, workload.NodeUse{Node: node, Calls: r.Calls, TotalExecMs: r.TotalExecMs})
}

// Workload turns a snapshot's pg_stat_statements rows into the workload: every text parsed
// into its model, rows merged by fingerprint, columns resolved against the catalog, models
// upgraded from samples that carry the application's literal constants, and the per-table access
// patterns summed. progress, when not nil, is told from one goroutine how many of the distinct
// texts are parsed (a 60 MB export takes half a minute), and never after Workload returns.
func Workload(snap *dbstate.Snapshot, cat *dbstate.Catalog, progress func(done, total int)) *workload.Workload {
	w := &workload.Workload{}
	byKey := map[string]*workload.Entry{}
	busiest := map[*workload.Entry]float64{}
	type parsed struct {
		st      *workload.Statement
		problem workload.TextProblem
		detail  string
	}
	truncateAt := snap.Statements.TrackActivityQuerySize
	if snap.Source != "live" {
		truncateAt = 0 // an export's own limit is unknown
	}
	// Parse each distinct text once, on every core: parsing is nearly all of the work, and
	// pg_query keeps its parser state per thread.
	// A cluster's statements are the primary's and every replica's (read traffic never
	// reaches the primary's pg_stat_statements), merged by fingerprint like any other rows.
	type noded struct {
		node string
		r    *dbstate.StatementRow
	}
	var rows []noded
	for i := range snap.Statements.Rows {
		rows = append(rows, noded{"primary", &snap.Statements.Rows[i]})
	}
	for _, rep := range snap.Replicas {
		for i := range rep.Statements.Rows {
			rows = append(rows, noded{rep.Name, &rep.Statements.Rows[i]})
		}
	}
	var texts []string
	cache := map[string]parsed{}
	for _, nr := range rows {
		if q := nr.r.Query; cache[q] == (parsed{}) {
			cache[q] = parsed{problem: "pending"}
			texts = append(texts, q)
		}
	}
	results := make([]parsed, len(texts))
	views := query.NewViews(snap.Views)
	var parsedTexts atomic.Int64
	stop := make(chan struct{})
	var reporter sync.WaitGroup
	if progress != nil {
		// One goroutine reports, on a clock: the workers only count.
		reporter.Add(1)
		go func() {
			defer reporter.Done()
			tick := time.NewTicker(progressEvery)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					progress(int(parsedTexts.Load()), len(texts))
				}
			}
		}()
	}
	parallel(len(texts), func(i int) {
		p := &results[i]
		p.st, p.problem, p.detail = query.ParseTextWith(texts[i], truncateAt, views)
		parsedTexts.Add(1)
	})
	close(stop)
	reporter.Wait()
	for i, q := range texts {
		cache[q] = results[i]
	}

	for _, nr := range rows {
		r := nr.r
		w.TotalExecMs += r.TotalExecMs
		w.TotalCalls += r.Calls
		p := cache[r.Query]
		key := "unparsed-" + strconv.FormatInt(int64(r.QueryID), 10)
		if p.st != nil {
			key = p.st.Fingerprint
		}
		ws := byKey[key]
		if ws == nil {
			ws = &workload.Entry{Fingerprint: key, Problem: p.problem, ProblemDetail: p.detail}
			if p.st != nil {
				// A text has one fingerprint, so a cached parse belongs to this statement alone.
				ws.Model, ws.ModelSource = p.st, "pg_stat_statements"
			}
			byKey[key] = ws
			w.Statements = append(w.Statements, ws)
		}
		if !slices.Contains(ws.QueryIDs, r.QueryID) {
			ws.QueryIDs = append(ws.QueryIDs, r.QueryID)
		}
		ws.Calls += r.Calls
		ws.TotalExecMs += r.TotalExecMs
		ws.MaxExecMs = max(ws.MaxExecMs, r.MaxExecMs)
		ws.Rows += r.Rows
		ws.SharedBlksHit += r.SharedBlksHit
		ws.SharedBlksRead += r.SharedBlksRead
		ws.TempBlks += r.TempBlksRead + r.TempBlksWrit
		ws.WalBytes += r.WalBytes
		ws.Toplevel = ws.Toplevel || r.Toplevel
		if len(snap.Replicas) > 0 {
			addNodeUse(ws, nr.node, r)
		}
		if r.TotalExecMs >= busiest[ws] {
			busiest[ws] = r.TotalExecMs
			ws.Query = r.Query
		}
	}

	applySamples(snap.Statements.Samples, byKey, views)

	problems := map[workload.TextProblem]*workload.ProblemCount{}
	for _, ws := range w.Statements {
		slices.Sort(ws.QueryIDs)
		slices.SortStableFunc(ws.Nodes, func(a, b workload.NodeUse) int { return cmp.Compare(b.TotalExecMs, a.TotalExecMs) })
		if len(ws.Texts) == 0 {
			ws.Texts = []string{ws.Query}
		}
		// The planner is handed these texts: a normalised `interval $2` must become a cast first.
		ws.ReadTexts = make([]string, len(ws.Texts))
		for i, t := range ws.Texts {
			ws.Texts[i] = query.Plannable(t)
			if r, ok := query.ReadForm(ws.Texts[i]); ok {
				ws.ReadTexts[i] = r
			}
		}
		if ws.Calls > 0 {
			ws.MeanExecMs = ws.TotalExecMs / float64(ws.Calls)
		}
		if w.TotalExecMs > 0 {
			ws.TimeShare = ws.TotalExecMs / w.TotalExecMs
		}
		if ws.Model != nil {
			for _, m := range ws.Models() {
				canonicalize(m, cat)
			}
			ws.System = systemOnly(ws.Model, cat)
			continue
		}
		pc := problems[ws.Problem]
		if pc == nil {
			pc = &workload.ProblemCount{Problem: ws.Problem}
			problems[ws.Problem] = pc
		}
		pc.Statements++
		pc.Calls += ws.Calls
		pc.TimeShare += ws.TimeShare
	}
	for _, pc := range problems {
		w.Unmodelled = append(w.Unmodelled, *pc)
	}
	slices.SortFunc(w.Unmodelled, func(a, b workload.ProblemCount) int { return cmp.Compare(a.Problem, b.Problem) })
	slices.SortStableFunc(w.Statements, func(a, b *workload.Entry) int {
		if c := cmp.Compare(b.TotalExecMs, a.TotalExecMs); c != 0 {
			return c
		}
		return cmp.Compare(a.Fingerprint, b.Fingerprint)
	})
	w.Tables = tableAccess(w.Statements, cat)
	return w
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// applySamples replaces a statement's model (parsed from the normalised text, where every
// constant is a $n) with models parsed from samples of the application's own texts, so literal
// constants such as status = 'pending' are known. Samples are trusted when the application binds
// its values as parameters (then the literals in its text are fixed: each distinct text is a
// variant of the statement), or, for texts without parameters, when only one text was seen for
// the statement.
func applySamples(samples []string, byKey map[string]*workload.Entry, views *query.Views) {
	type seen struct {
		bound, unbound         []*workload.Statement
		boundText, unboundText []string
	}
	byFP := map[string]*seen{}
	var order []string
	for _, text := range samples {
		st, err := query.ParseWith(text, views)
		if err != nil {
			continue // a truncated or odd sample says nothing the normalised text does not
		}
		ws := byKey[st.Fingerprint]
		if ws == nil || ws.Model == nil {
			continue
		}
		s := byFP[st.Fingerprint]
		if s == nil {
			s = &seen{}
			byFP[st.Fingerprint] = s
			order = append(order, st.Fingerprint)
		}
		if query.UsesParams(text) {
			s.bound, s.boundText = append(s.bound, st), append(s.boundText, text)
		} else {
			s.unbound, s.unboundText = append(s.unbound, st), append(s.unboundText, text)
		}
	}
	for _, fp := range order {
		s, ws := byFP[fp], byKey[fp]
		models, texts := s.bound, s.boundText
		if len(models) == 0 && len(s.unbound) == 1 {
			models, texts = s.unbound, s.unboundText
		}
		if len(models) > 0 {
			ws.Model, ws.Variants, ws.ModelSource, ws.Texts = models[0], models[1:], "sample", texts
		}
	}
}

// systemOnly reports whether a statement reads only system catalogs (pg_catalog,
// information_schema, or pg_* names the snapshot does not have).
func systemOnly(st *workload.Statement, cat *dbstate.Catalog) bool {
	if len(st.Tables) == 0 {
		return false
	}
	for _, t := range st.Tables {
		switch {
		case t.Schema == "pg_catalog" || t.Schema == "information_schema":
		case t.Schema == "" && strings.HasPrefix(t.Name, "pg_") && cat.Table(t.Name) == nil:
		default:
			return false
		}
	}
	return true
}

// canonicalize resolves unqualified columns and names every table as the catalog does
// ("schema.name").
func canonicalize(st *workload.Statement, cat *dbstate.Catalog) {
	st.ResolveColumns(cat.HasColumn)
	st.RenameTables(func(key string) (string, string, bool) {
		if t := cat.Table(key); t != nil {
			return t.Schema, t.Name, true
		}
		return "", "", false
	})
}

// tableAccess sums how the workload reaches each table.
func tableAccess(stmts []*workload.Entry, cat *dbstate.Catalog) []*workload.TableAccess {
	byTable := map[string]*workload.TableAccess{}
	get := func(key string) *workload.TableAccess {
		ta := byTable[key]
		if ta == nil {
			ta = &workload.TableAccess{Table: key, Known: cat.Table(key) != nil}
			byTable[key] = ta
		}
		return ta
	}
	type colKey struct{ table, column string }
	// A map, not a scan of the table's columns: a wide table read by thousands of distinct
	// statements made that quadratic.
	columns := map[colKey]*workload.ColumnAccess{}
	for _, ws := range stmts {
		st := ws.Model
		if st == nil || ws.System {
			continue
		}
		for _, key := range st.TableKeys() {
			ta := get(key)
			ta.Statements++
			ta.Calls += ws.Calls
			ta.TimeShare += ws.TimeShare
			if st.Writes(key) {
				ta.WriteCalls += ws.Calls
			} else {
				ta.ReadCalls += ws.Calls
			}
		}
		used := map[colKey]bool{}
		col := func(c workload.ColumnRef) *workload.ColumnAccess {
			if c.Table == "" {
				return nil
			}
			ta := get(c.Table)
			ca := columns[colKey{c.Table, c.Column}]
			if ca == nil {
				ca = &workload.ColumnAccess{Column: c.Column, Ops: map[string]int64{}}
				ta.Columns = append(ta.Columns, ca)
				columns[colKey{c.Table, c.Column}] = ca
			}
			if k := (colKey{c.Table, c.Column}); !used[k] {
				used[k] = true
				ca.Calls += ws.Calls
			}
			return ca
		}
		seenOp := map[string]bool{}
		for _, p := range st.Predicates {
			ca := col(p.Column)
			if ca == nil {
				continue
			}
			op := string(p.Op)
			if wr := p.Wrapper; wr != nil {
				switch wr.Kind {
				case workload.WrapFunction:
					op = "inside " + wr.Name + "()"
				case workload.WrapCast:
					op = "inside ::" + wr.Name
				default:
					op = "inside " + wr.Name + " arithmetic"
				}
			}
			if k := p.Column.String() + "|" + op; !seenOp[k] {
				seenOp[k] = true
				ca.Ops[op] += ws.Calls
			}
		}
		for _, j := range st.Joins {
			for _, c := range []workload.ColumnRef{j.Left, j.Right} {
				if ca := col(c); ca != nil {
					ca.Joins += ws.Calls
				}
			}
		}
		for _, k := range st.OrderBy {
			if k.Column != nil {
				if ca := col(*k.Column); ca != nil {
					ca.OrderBy += ws.Calls
				}
			}
		}
		for _, k := range st.GroupBy {
			if k.Column != nil {
				if ca := col(*k.Column); ca != nil {
					ca.GroupBy += ws.Calls
				}
			}
		}
		for _, c := range st.SetColumns {
			if c.Table == "" {
				continue
			}
			ta := get(c.Table)
			if !slices.Contains(ta.Written, c.Column) {
				ta.Written = append(ta.Written, c.Column)
			}
		}
	}
	out := make([]*workload.TableAccess, 0, len(byTable))
	for _, ta := range byTable {
		slices.SortFunc(ta.Columns, func(a, b *workload.ColumnAccess) int {
			if c := cmp.Compare(b.Calls, a.Calls); c != 0 {
				return c
			}
			return cmp.Compare(a.Column, b.Column)
		})
		for _, ca := range ta.Columns {
			if len(ca.Ops) == 0 {
				ca.Ops = nil
			}
		}
		slices.Sort(ta.Written)
		out = append(out, ta)
	}
	slices.SortFunc(out, func(a, b *workload.TableAccess) int {
		if c := cmp.Compare(b.TimeShare, a.TimeShare); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Calls, a.Calls); c != 0 {
			return c
		}
		return cmp.Compare(a.Table, b.Table)
	})
	return out
}
