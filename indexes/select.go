package indexes

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/workload"
)

// Coster prices statements under a configuration of hypothetical indexes. WhatIf (the planner,
// through HypoPG) is the one that proves; a statistics-based estimator stands in where HypoPG is
// missing.
type Coster interface {
	// Cost prices a statement with the candidates in config in place and the existing indexes in
	// hide hidden; tables are the catalog keys of the tables it reads.
	// params are sets of representative values for its $n parameters, each one a custom plan
	// (nil: plan it generically only).
	Cost(ctx context.Context, config []*Candidate, hide []string, fingerprint, text string, params [][]string, tables []string) (Plan, error)
	// Size estimates a candidate's size in bytes.
	Size(ctx context.Context, c *Candidate) (float64, error)
}

// Options bound the selection.
type Options struct {
	// MaxIndexes caps how many indexes are proposed (0: no cap).
	MaxIndexes int
	// BudgetBytes caps their total estimated size (0: no cap).
	BudgetBytes float64
	// MinImprovement is the share of the workload's weighted cost an index must save to be
	// proposed (default 0.005: half a percent), or of its measured execution time
	// (pg_stat_statements' total_exec_time, scaled by the share of each statement's cost saved).
	MinImprovement float64
	// MinSpeedup and MinCallShare: an index is also proposed, whatever its share of the total,
	// when it makes a statement with at least MinCallShare of all calls MinSpeedup times cheaper
	// (defaults 10 and 0.01): a user-facing statement's latency matters even when the workload's
	// total is dominated by heavier ones.
	MinSpeedup   float64
	MinCallShare float64
	// MinStatementSaving is the share of some statement's cost an index must save (default 0.5,
	// dexter's bar): an index that shaves a few percent off every statement it serves (a B-tree
	// beside a hash, GiST or primary-key index the planner already uses for the condition) is
	// not worth its writes and its space, however large the workload's total.
	MinStatementSaving float64
	// Planned are indexes already on their way (migrations not yet applied): they are in place
	// in every configuration priced, and never proposed again.
	Planned []*Candidate
	// Trace, when set, is told each option the selection prices (candidate, net saving, the
	// thresholds) and each choice: what 'indexes generate --log-level debug' shows.
	Trace func(msg string, args ...any)
	// MaxTexts caps how many statement texts the planner is asked about (0: no cap), the
	// costliest statements first: with pg_stat_statements.track = all every text EXPLAINed is
	// recorded as a nested statement, and the cap keeps pgtune within the room pg_stat_statements
	// has left (see TextBudget).
	MaxTexts int
}

// TextBudget is Options.MaxTexts for a live snapshot: unlimited when pgtune's sessions record
// nothing (track = none for them, or track = top, which skips nested statements); otherwise the
// room pg_stat_statements has left below 90 % of its max, so that planning never evicts the
// application's statements. Each text planned may take two entries: its nested execution, and a
// "sticky" entry PREPARE leaves for a text with constants (pg_stat_statements makes it at parse
// time; it has no calls, so the view never shows it, but it holds a slot). The rows this role
// recorded in earlier runs count as room (this run records the same keys); 80 covers the fixed
// texts of a run (about 60 for a role's first). ok is false when the cap bites.
func TextBudget(st dbstate.Statements, track string, texts int) (limit int, ok bool) {
	if st.Untracked || track != "all" || st.Max <= 0 || st.Entries <= 0 {
		return 0, true
	}
	room := (int(0.90*float64(st.Max)) - int(st.Entries-st.OwnRole) - 80) / 2
	room = max(room, 0)
	if texts <= room {
		return 0, true
	}
	return max(room, 1), false
}

// Effect is what an index does to one statement.
type Effect struct {
	Fingerprint string  `json:"fingerprint"`
	Query       string  `json:"query"`
	Calls       int64   `json:"calls"`
	Before      float64 `json:"cost_before"`
	After       float64 `json:"cost_after"`
}

// Proposal is an index the selection chose, with its reasons.
type Proposal struct {
	Candidate *Candidate `json:"candidate"`
	SizeBytes float64    `json:"size_bytes"`
	// Benefit is the weighted planner cost it saves (calls × cost, summed over statements), and
	// Share that as a share of the workload's weighted cost.
	Benefit float64  `json:"benefit"`
	Share   float64  `json:"share"`
	Effects []Effect `json:"effects"`
	// WriteCost is the estimated weighted cost it adds to the table's writes (index entries, and
	// HOT updates it breaks).
	WriteCost float64 `json:"write_cost"`
	// BreaksHOT lists columns of the index that UPDATEs write.
	BreaksHOT []string `json:"breaks_hot,omitempty"`
	// Replaces are existing indexes it makes redundant (they lead its keys).
	Replaces []string `json:"replaces,omitempty"`
	// Alternatives says why other candidates for the same statements lost.
	Alternatives []string `json:"alternatives,omitempty"`
	// Estimated is set when the costs come from the statistics estimator, not the planner.
	Estimated bool `json:"estimated,omitempty"`
}

// Result is a selection.
type Result struct {
	Proposals []*Proposal `json:"proposals"`
	// BaseCost and FinalCost are the workload's weighted cost before and after (planned indexes
	// in place in both); ReferenceCost is without any proposed or planned index, the yardstick
	// of thresholds and shares.
	ReferenceCost float64 `json:"reference_cost"`
	BaseCost      float64 `json:"base_cost"`
	FinalCost     float64 `json:"final_cost"`
	// Explains counts planner calls; Candidates how many were considered.
	Candidates int `json:"candidates"`
	// Denied lists the statements the planner refused to plan for lack of privilege (EXPLAIN
	// needs SELECT on the tables), DeniedTables the tables they read: no advice covers them.
	Denied       []string `json:"denied,omitempty"`
	DeniedTables []string `json:"denied_tables,omitempty"`
	// Unplanned counts the statements left out by MaxTexts.
	Unplanned int `json:"unplanned,omitempty"`
	// Refused lists candidates HypoPG could not build (each left out, the rest priced).
	Refused []RefusedCandidate `json:"refused_candidates,omitempty"`
}

// DeniedError is the index engine refused by the planner on every statement that reads a table:
// the role may not SELECT from the workload's tables, which EXPLAIN requires.
type DeniedError struct {
	Statements int
	Tables     []string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("the planner refused all %d statements that read tables: permission denied for %s (EXPLAIN needs SELECT on the tables)", e.Statements, strings.Join(e.Tables, ", "))
}

// isDenied reports a permission error from the server.
func isDenied(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

// Write-overhead model, in planner cost units per row written: an index entry costs about a
// random page touch amortised over a B-tree leaf; an UPDATE that writes an indexed column cannot
// be HOT and adds an entry to every index of the table.
const (
	entryCost  = 0.5
	hotPenalty = 2.0
)

type stmt struct {
	ws    *workload.Entry
	est   *Estimator // prices what the coster cannot (trigram GIN)
	texts []string
	// readTexts are the texts' read forms, used once the planner refuses a text to this role.
	readTexts []string
	params    [][][]string // sets of representative values per text (nil: none)
	tables    []string
	reads     map[string]bool     // "table.column" the statement uses in conditions, joins, sorts
	near      map[*Candidate]bool // the candidates that can change its plan (Select's serves)
	base      float64
	ref       float64 // its cost without any planned index: what pg_stat_statements' time was measured on
	cur       float64
	curV      []float64 // cur's variants (Plan.Variants)
}

// buildStmts are the workload's statements an index can serve (reads, and the reads of UPDATE
// and DELETE), each with its texts, their representative parameters and the columns it reads.
func buildStmts(w *workload.Workload, cat *dbstate.Catalog) []*stmt {
	est := NewEstimator(w, cat)
	var stmts []*stmt
	for _, ws := range w.Statements {
		st := ws.Model
		if st == nil || ws.System || ws.Calls == 0 {
			continue
		}
		switch st.Kind {
		case workload.KindSelect, workload.KindUpdate, workload.KindDelete:
		default:
			continue
		}
		s := &stmt{ws: ws, est: est, texts: slices.Clone(ws.Texts), readTexts: slices.Clone(ws.ReadTexts), tables: st.TableKeys(), reads: map[string]bool{}, near: map[*Candidate]bool{}}
		if len(s.texts) == 0 {
			s.texts = []string{ws.Query}
		}
		models := ws.Models()
		for i := range s.texts {
			var ps [][]string
			if i < len(models) {
				ps = RepresentativeSets(models[i], cat)
			}
			s.params = append(s.params, ps)
		}
		for _, m := range ws.Models() {
			for _, p := range m.Predicates {
				s.reads[p.Column.String()] = true
			}
			for _, j := range m.Joins {
				s.reads[j.Left.String()], s.reads[j.Right.String()] = true, true
			}
			for _, k := range m.OrderBy {
				if k.Column != nil {
					s.reads[k.Column.String()] = true
				}
			}
		}
		stmts = append(stmts, s)
	}
	return stmts
}

// Select chooses the indexes that serve the whole workload best. It runs in phases, each a
// method of selection: the statements and their yardstick (newSelection, priceBaseline), what
// each candidate can change (relate), the lazy greedy growth and the pruning, in rounds (grow),
// and each chosen index's own effect (propose).
func Select(ctx context.Context, w *workload.Workload, cat *dbstate.Catalog, cands []*Candidate, coster Coster, o Options) (*Result, error) {
	if wm, ok := coster.(Warmer); ok {
		defer wm.Release()
	}
	sel := newSelection(ctx, w, cat, cands, coster, o.withDefaults())
	if err := sel.priceBaseline(); err != nil {
		return nil, err
	}
	sel.relate()
	if wm, ok := coster.(Warmer); ok {
		wm.Warm(ctx, sel.candidateJobs())
	}
	if err := sel.grow(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Interrupted(err)
	}
	sel.propose()
	if err := ctx.Err(); err != nil {
		return nil, Interrupted(err)
	}
	return sel.res, nil
}

// withDefaults fills the thresholds left at zero.
func (o Options) withDefaults() Options {
	if o.MinImprovement <= 0 {
		o.MinImprovement = 0.005
	}
	if o.MinSpeedup <= 0 {
		o.MinSpeedup = 10
	}
	if o.MinCallShare <= 0 {
		o.MinCallShare = 0.01
	}
	if o.MinStatementSaving <= 0 {
		o.MinStatementSaving = 0.5
	}
	return o
}

// selection is one run of Select: its inputs, the statements' prices, and the choice so far.
type selection struct {
	ctx    context.Context
	w      *workload.Workload
	cat    *dbstate.Catalog
	coster Coster
	o      Options
	stmts  []*stmt
	cands  []*Candidate
	res    *Result

	// tableCalls are the calls of statements that read a table: the yardstick of "frequent".
	tableCalls int64
	// reference is the workload's cost without any index pgtune proposed or planned; threshold
	// and timeThreshold are the bars in planner cost and in measured time.
	reference, threshold, timeThreshold float64

	// serves: the statements a candidate can change; own: those it is priced on while it
	// competes (those it was derived from); owners: own, the other way round.
	serves map[*Candidate][]*stmt
	own    map[*Candidate][]*stmt
	owners map[*stmt][]*Candidate

	chosen    []*Candidate
	sizes     map[*Candidate]float64
	usedBytes float64
	dropped   map[*Candidate]bool
	// dirty statements have a stale cur: an index that serves them was chosen since. They are
	// priced again when something needs their cost (refresh).
	dirty map[*stmt]bool
	// changed[s] is the step at which s's cost or configuration last changed; an option priced
	// at a later step is still exact.
	changed map[*stmt]int
	step    int
	// priced keeps each candidate's last per-statement prices, by the chosen index it widens
	// (nil: added outright): a statement no choice touched since keeps its price, so pricing a
	// candidate again costs only its statements that changed (a candidate derived from a hundred
	// statements is otherwise priced a hundred times at every step it comes to the front).
	priced map[*Candidate]map[*Candidate]*memo
}

type memo struct {
	at    int
	costs map[*stmt]float64
	vars  map[*stmt][]float64
}

// option is a candidate priced against the chosen set: added outright, or widening replace.
type option struct {
	c        *Candidate
	replace  *Candidate // a chosen index c widens
	benefit  float64
	perByte  float64
	costs    map[*stmt]float64
	size     float64
	writeAdd float64
	extra    float64 // bytes it adds
	at       int     // the step it was priced at
}

// newSelection builds the statements an index can serve, caps their texts at MaxTexts, leaves
// out the candidates already planned, and warms the coster's cache for the first pass.
func newSelection(ctx context.Context, w *workload.Workload, cat *dbstate.Catalog, cands []*Candidate, coster Coster, o Options) *selection {
	sel := &selection{ctx: ctx, w: w, cat: cat, coster: coster, o: o, stmts: buildStmts(w, cat), res: &Result{Candidates: len(cands)},
		sizes: map[*Candidate]float64{}, dropped: map[*Candidate]bool{}, dirty: map[*stmt]bool{}, changed: map[*stmt]int{},
		priced: map[*Candidate]map[*Candidate]*memo{}}
	// Only statements that read a table can be served by an index. Cheap, frequent ones that
	// read none (SELECT 1, SELECT now(), pool health checks) must not move the choice: they
	// count neither in the yardstick of thresholds nor in what makes a statement frequent.
	for _, s := range sel.stmts {
		if len(s.tables) > 0 {
			sel.tableCalls += s.ws.Calls
		}
	}
	if o.MaxTexts > 0 {
		// The workload is ordered by total time: keep the costliest statements' texts.
		texts := 0
		for i, s := range sel.stmts {
			if texts+len(s.texts) > o.MaxTexts {
				sel.res.Unplanned = len(sel.stmts) - i
				sel.stmts = sel.stmts[:i]
				break
			}
			texts += len(s.texts)
		}
	}
	planned := map[string]bool{}
	for _, p := range o.Planned {
		planned[p.Signature()] = true
	}
	sel.cands = slices.DeleteFunc(slices.Clone(cands), func(c *Candidate) bool { return planned[c.Signature()] })
	if wm, ok := coster.(Warmer); ok {
		wm.Warm(ctx, baselineJobs(sel.stmts, o.Planned))
	}
	return sel
}

func (sel *selection) frequent(s *stmt) bool {
	return float64(s.ws.Calls) >= sel.o.MinCallShare*float64(sel.tableCalls)
}

// priceBaseline prices every statement without pgtune's indexes (the reference) and with the
// planned ones (where the choice starts), sets the thresholds, and leaves out what cannot be
// planned. Refused on every statement that reads a table, it is a DeniedError.
func (sel *selection) priceBaseline() error {
	// The threshold and the shares are measured against the workload without any index pgtune
	// proposed or planned, so a second run (with the first run's migrations planned) judges by
	// the same yardstick as the first.
	res, o := sel.res, sel.o
	deniedTables := map[string]bool{}
	for _, s := range sel.stmts {
		c, err := s.cost(sel.ctx, sel.coster, nil)
		if err != nil {
			// A statement the planner cannot plan (a temporary table since dropped, a text
			// cut short) is left out, not fatal. One it may not plan is said.
			// A statement that reads no table (an INSERT ... VALUES the role may not write)
			// has nothing an index could serve: its refusal is no gap in the advice.
			if isDenied(err) && len(s.tables) > 0 {
				res.Denied = append(res.Denied, s.ws.Fingerprint)
				for _, t := range s.tables {
					deniedTables[t] = true
				}
			}
			s.base = math.NaN()
			continue
		}
		if len(s.tables) > 0 {
			sel.reference += float64(s.ws.Calls) * c
		}
		s.ref = c
		if len(o.Planned) > 0 {
			if c, err = s.cost(sel.ctx, sel.coster, o.Planned); err != nil {
				s.base = math.NaN()
				continue
			}
		}
		s.base, s.cur = c, c
		res.BaseCost += float64(s.ws.Calls) * c
	}
	sel.stmts = slices.DeleteFunc(sel.stmts, func(s *stmt) bool { return math.IsNaN(s.base) })
	res.DeniedTables = slices.Sorted(maps.Keys(deniedTables))
	// Refused on every statement that reads a table (what remains reads none: SELECT now()).
	if len(res.Denied) > 0 && !slices.ContainsFunc(sel.stmts, func(s *stmt) bool { return len(s.tables) > 0 }) {
		return &DeniedError{Statements: len(res.Denied), Tables: res.DeniedTables}
	}
	res.ReferenceCost = sel.reference
	sel.threshold = o.MinImprovement * sel.reference
	// The same bar in measured time: pg_stat_statements says how much of the workload's execution
	// time each statement takes, the planner how much of its cost an index saves. A statement on
	// a small table is cheap in planner units beside the sequential scans of the big ones, and
	// can still take a real share of the time (a 50 ms page load called often): an index that
	// saves MinImprovement of the measured time passes too.
	totalMs := 0.0
	for _, s := range sel.stmts {
		if len(s.tables) > 0 {
			totalMs += s.ws.TotalExecMs
		}
	}
	sel.timeThreshold = o.MinImprovement * totalMs
	return nil
}

// savedMs is the measured time an index saves a statement, from its planner costs.
func (sel *selection) savedMs(s *stmt, before, after float64) float64 {
	// The time was measured without the planned indexes: a share of that cost.
	if s.ref <= 0 || before <= after {
		return 0
	}
	return s.ws.TotalExecMs * (before - after) / s.ref
}

// relate finds the statements each candidate can change and those it is priced on.
func (sel *selection) relate() {
	// The statements a candidate can change (serves): those it was derived from, and any other
	// that uses its leading column. A statement is priced with only the indexes that can change
	// it (relevant): the others do not move its plan, and leaving them out of its configuration
	// keeps its cached plan valid while indexes elsewhere on its table are chosen. The planned
	// indexes are always in place.
	sel.serves = map[*Candidate][]*stmt{}
	for _, c := range sel.cands {
		lead := ""
		if len(c.Keys) > 0 && c.Keys[0].Column != "" {
			lead = c.Table + "." + c.Keys[0].Column
		}
		for _, s := range sel.stmts {
			if slices.Contains(c.Serves, s.ws.Fingerprint) || lead != "" && s.reads[lead] {
				sel.serves[c] = append(sel.serves[c], s)
				s.near[c] = true
			}
		}
	}
	for _, s := range sel.stmts {
		if _, v, err := sel.priceV(s, nil); err == nil {
			s.curV = v
		}
	}
	// own: the statements a candidate is priced on while it competes, those it was derived from.
	// Pricing each candidate over every statement that touches its leading column made the cost
	// grow with statements × candidates on one wide table; the others still count: once it is
	// chosen they are priced with it (their cost drops, so their own candidates gain less) and
	// they count in pruning and in its effects.
	sel.own = map[*Candidate][]*stmt{}
	sel.owners = map[*stmt][]*Candidate{}
	for _, c := range sel.cands {
		for _, s := range sel.serves[c] {
			if slices.Contains(c.Serves, s.ws.Fingerprint) {
				sel.own[c] = append(sel.own[c], s)
				sel.owners[s] = append(sel.owners[s], c)
			}
		}
	}
}

// planWith plans s with the planned indexes and those of set that can change it.
func (sel *selection) planWith(s *stmt, set []*Candidate) (float64, []float64, []string, error) {
	return s.plan(sel.ctx, sel.coster, sel.configFor(s, set), nil)
}

// configFor is the configuration s is planned under with set in place: the planned indexes and
// those of set that can change it.
func (sel *selection) configFor(s *stmt, set []*Candidate) []*Candidate {
	config := slices.Clone(sel.o.Planned)
	for _, c := range set {
		if s.near[c] {
			config = append(config, c)
		}
	}
	return config
}

// jobsWith are the Cost calls planWith makes: a Warmer can make them ahead, in parallel.
func (sel *selection) jobsWith(s *stmt, set []*Candidate) []CostJob {
	return s.jobs(sel.configFor(s, set))
}

func (sel *selection) priceV(s *stmt, set []*Candidate) (float64, []float64, error) {
	c, v, _, err := sel.planWith(s, set)
	return c, v, err
}

func (sel *selection) price(s *stmt, set []*Candidate) (float64, error) {
	c, _, err := sel.priceV(s, set)
	return c, err
}

// uses: whether a statement's plans with set in place use c. An index its plans leave unused
// can be taken away without changing them (the plan they chose is still there), so pruning and
// the effects only price the statements that use it. Both costers name the indexes a plan uses;
// a candidate the planner cannot simulate (trigram GIN, priced by the estimator's ratio) is in
// no plan, and is always priced.
func (sel *selection) uses(s *stmt, set []*Candidate, c *Candidate) bool {
	if c.Estimated {
		return true
	}
	_, _, used, err := sel.planWith(s, set)
	return err == nil && slices.Contains(used, c.Signature())
}

// refresh prices a dirty statement again with set in place.
func (sel *selection) refresh(s *stmt, set []*Candidate) {
	if !sel.dirty[s] {
		return
	}
	if cost, variants, err := sel.priceV(s, set); err == nil {
		s.cur, s.curV = cost, variants
	}
	delete(sel.dirty, s)
}

// evaluate prices c against the chosen set: adding it outright, or widening a chosen index
// that leads its keys. It returns the best option that passes the thresholds, or nil.
func (sel *selection) evaluate(c *Candidate) (*option, error) {
	o := sel.o
	if sel.hopeless(c) {
		if o.Trace != nil {
			o.Trace("hopeless", "candidate", c.Name, "statements", len(sel.own[c]), "threshold", math.Round(sel.threshold), "time_threshold_ms", math.Round(sel.timeThreshold))
		}
		return nil, nil
	}
	var best *option
	for _, rep := range sel.replaceOptions(c) {
		config := sel.withOption(c, rep)
		// Widening rep: the statements that use rep are served by c as well (rep's keys lead
		// c's; the wider index costs them a little more), so c is priced on its own.
		affected := sel.own[c]
		costs := map[*stmt]float64{}
		if sel.priced[c] == nil {
			sel.priced[c] = map[*Candidate]*memo{}
		}
		prev := sel.priced[c][rep]
		m := &memo{at: sel.step, costs: costs, vars: map[*stmt][]float64{}}
		benefit, speedup, saving, timeSaved := 0.0, 0.0, 0.0, 0.0
		for _, s := range affected {
			sel.refresh(s, sel.chosen)
			cost, variants, ok := 0.0, []float64(nil), false
			if prev.holds(sel, s) {
				cost, ok = prev.costs[s]
				variants = prev.vars[s]
			}
			if !ok {
				var err error
				if cost, variants, err = sel.priceV(s, config); err != nil {
					continue
				}
			}
			costs[s], m.vars[s] = cost, variants
			benefit += float64(s.ws.Calls) * (s.cur - cost)
			timeSaved += sel.savedMs(s, s.cur, cost)
			if sel.frequent(s) {
				speedup = max(speedup, speedupOf(s.curV, variants, s.cur, cost))
			}
			if s.cur > 0 {
				saving = max(saving, (s.cur-cost)/s.cur)
			}
		}
		sel.priced[c][rep] = m
		size, err := sel.coster.Size(sel.ctx, c)
		if err == nil && size <= 0 && c.Estimated && len(sel.stmts) > 0 && sel.stmts[0].est != nil {
			size, err = sel.stmts[0].est.Size(sel.ctx, c) // HypoPG cannot size a GIN index
		}
		if err != nil {
			if sel.ctx.Err() != nil {
				return nil, Interrupted(sel.ctx.Err())
			}
			// HypoPG refuses this candidate (too many columns, an operator class it cannot
			// build): the candidate goes, the engine goes on.
			sel.dropped[c] = true
			sel.res.Refused = append(sel.res.Refused, RefusedCandidate{Name: c.Name, Reason: err.Error()})
			return nil, nil
		}
		extra := size
		writeAdd := writeCost(sel.w, sel.cat, c)
		if rep != nil {
			extra -= sel.sizes[rep]
			writeAdd -= writeCost(sel.w, sel.cat, rep)
		}
		net := benefit - writeAdd
		if o.Trace != nil {
			o.Trace("priced", "candidate", c.Name, "widens", nameOf(rep), "statements", len(affected), "net", math.Round(net), "threshold", math.Round(sel.threshold),
				"best_statement_saving", math.Round(100*saving)/100, "frequent_speedup", math.Round(10*speedup)/10,
				"saved_ms", math.Round(timeSaved), "time_threshold_ms", math.Round(sel.timeThreshold))
		}
		if net <= sel.threshold && (net <= 0 || speedup < o.MinSpeedup && timeSaved < sel.timeThreshold) || saving < o.MinStatementSaving && rep == nil {
			continue // too little for the workload, or for every statement it serves
		}
		opt := &option{c: c, replace: rep, benefit: net, perByte: net / max(extra, 8192), costs: costs, size: size, writeAdd: writeAdd, extra: extra, at: sel.step}
		if best == nil || opt.perByte > best.perByte {
			best = opt
		}
	}
	return best, nil
}

// replaceOptions are the ways c can join the chosen set: added outright (nil), or widening a
// chosen index that leads its keys.
func (sel *selection) replaceOptions(c *Candidate) []*Candidate {
	options := []*Candidate{nil}
	for _, ch := range sel.chosen {
		if widens(c, ch) {
			options = append(options, ch)
		}
	}
	return options
}

// withOption is the chosen set with c in it, in place of rep (nil: added outright).
func (sel *selection) withOption(c, rep *Candidate) []*Candidate {
	return append(slices.DeleteFunc(slices.Clone(sel.chosen), func(x *Candidate) bool { return x == rep }), c)
}

// holds: the memo's price of s is still exact (nothing touched s since it was priced).
func (m *memo) holds(sel *selection, s *stmt) bool {
	return m != nil && sel.changed[s] <= m.at
}

// widens: c is ch with more keys (same table, method and predicate), so choosing c can replace ch.
func widens(c, ch *Candidate) bool {
	return ch.Table == c.Table && ch.Method == c.Method && ch.Where == c.Where && len(ch.Keys) < len(c.Keys) &&
		slices.EqualFunc(ch.Keys, c.Keys[:len(ch.Keys)], sameKey)
}

// fresh: nothing the option was priced on has changed since.
func (sel *selection) fresh(opt *option) bool {
	if opt.replace != nil && !slices.Contains(sel.chosen, opt.replace) {
		return false
	}
	for s := range opt.costs {
		if sel.changed[s] > opt.at {
			return false
		}
	}
	for _, s := range sel.own[opt.c] {
		if sel.changed[s] > opt.at {
			return false
		}
	}
	return true
}

// requeue prices c again and queues it when it still passes.
func (sel *selection) requeue(queue *optionQueue, c *Candidate) error {
	opt, err := sel.evaluate(c)
	if err != nil {
		return err
	}
	if opt != nil {
		queue.push(opt.c, opt.perByte, opt)
	}
	return nil
}

// grow grows the set greedily, then prunes what later choices superseded; a pruned index can
// leave room for a candidate that lost to it, so it grows again, until nothing is pruned (at
// most 5 rounds; a pruned index is never taken back, so the rounds end).
func (sel *selection) grow() error {
	for round := 0; round < 5; round++ {
		if err := sel.growGreedily(); err != nil {
			return err
		}
		pruned := sel.prune()
		if err := sel.ctx.Err(); err != nil {
			return Interrupted(err)
		}
		if !pruned {
			break
		}
		sel.step++
		for _, s := range sel.stmts {
			sel.changed[s] = sel.step
			sel.dirty[s] = true
		}
	}
	return nil
}

// growGreedily is one lazy greedy growth (Minoux's accelerated greedy): what a candidate saves
// only shrinks as indexes are chosen, so its last price bounds its next; the candidates wait in
// order of their last price, and only the one at the front is priced again, and taken if it
// still leads. A candidate none of whose statements changed keeps its price.
func (sel *selection) growGreedily() error {
	o := sel.o
	queue := &optionQueue{}
	for _, c := range sel.cands {
		if slices.Contains(sel.chosen, c) || sel.dropped[c] || len(sel.own[c]) == 0 {
			continue
		}
		if err := sel.ctx.Err(); err != nil {
			return Interrupted(err)
		}
		if err := sel.requeue(queue, c); err != nil {
			return err
		}
	}
	for queue.Len() > 0 {
		// Cost errors are skipped (a statement the planner cannot plan with some index); a
		// cancelled context makes every one fail, and must stop the selection rather than
		// end it early with a partial answer.
		if err := sel.ctx.Err(); err != nil {
			return Interrupted(err)
		}
		if o.MaxIndexes > 0 && len(sel.chosen) >= o.MaxIndexes {
			break
		}
		opt := queue.pop().(*option)
		if slices.Contains(sel.chosen, opt.c) || sel.dropped[opt.c] {
			continue
		}
		if !sel.fresh(opt) {
			sel.warmStale(queue, opt)
			if err := sel.requeue(queue, opt.c); err != nil {
				return err
			}
			continue
		}
		if o.BudgetBytes > 0 && sel.usedBytes+opt.extra > o.BudgetBytes {
			continue // it does not fit; a smaller one may
		}
		for _, c := range sel.take(opt) {
			if c == opt.c || queue.has(c) || slices.Contains(sel.chosen, c) || sel.dropped[c] {
				continue
			}
			if err := sel.requeue(queue, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// warmStale lets a Warmer price, in parallel, what the next re-pricings need: the stale option at
// the front and the stale ones right behind it, as many as it has sessions (each option's
// statements are shared out too). The lazy greedy prices them one at a time, and usually more
// than one before it takes the next (each a few round trips of waiting on one session); one it
// would not have priced costs a helper's plans, not the time of the selection. The queue is left
// as it was.
func (sel *selection) warmStale(queue *optionQueue, opt *option) {
	wm, ok := sel.coster.(Warmer)
	if !ok || wm.Sessions() < 2 {
		return
	}
	batch := []*Candidate{opt.c}
	var held []queued
	for len(batch) < wm.Sessions() && len(held) < 2*wm.Sessions() && queue.Len() > 0 {
		x := heap.Pop(queue).(queued)
		held = append(held, x)
		if o := x.v.(*option); !slices.Contains(sel.chosen, o.c) && !sel.dropped[o.c] && !sel.fresh(o) {
			batch = append(batch, o.c)
		}
	}
	for _, x := range held {
		heap.Push(queue, x)
	}
	// The dirty statements first (the bound of hopeless reads their cost), then each
	// candidate's options on its statements that changed since it was priced.
	var jobs []CostJob
	seen := map[*stmt]bool{}
	for _, c := range batch {
		for _, s := range sel.own[c] {
			if sel.dirty[s] && !seen[s] {
				seen[s] = true
				jobs = append(jobs, sel.jobsWith(s, sel.chosen)...)
			}
		}
	}
	sel.warmAhead(jobs)
	jobs = nil
	for _, c := range batch {
		if sel.hopeless(c) {
			continue
		}
		for _, rep := range sel.replaceOptions(c) {
			config, prev := sel.withOption(c, rep), sel.priced[c][rep]
			for _, s := range sel.own[c] {
				if !prev.holds(sel, s) {
					jobs = append(jobs, sel.jobsWith(s, config)...)
				}
			}
		}
	}
	sel.warmAhead(jobs)
}

// take adds the option to the chosen set and returns the candidates to price again.
func (sel *selection) take(opt *option) []*Candidate {
	if sel.o.Trace != nil {
		sel.o.Trace("chosen", "candidate", opt.c.Name, "widens", nameOf(opt.replace), "net", math.Round(opt.benefit), "bytes", opt.size)
	}
	sel.step++
	touched := sel.serves[opt.c]
	if opt.replace != nil {
		sel.chosen = slices.DeleteFunc(sel.chosen, func(x *Candidate) bool { return x == opt.replace })
		sel.usedBytes -= sel.sizes[opt.replace]
		touched = mergeStmts(touched, sel.serves[opt.replace])
	}
	sel.chosen = append(sel.chosen, opt.c)
	sel.sizes[opt.c] = opt.size
	sel.usedBytes += opt.size
	// Re-price only what the new index can change: the statements it serves. Where one's
	// plan changed, its candidates that had fallen out (they saved too little) are priced
	// again: an index can make another worth having (an anti-join's inner index makes an
	// index on the outer side pay). Candidates that widen the new index have a new
	// option, and are priced again too.
	var jobs []CostJob
	for _, s := range touched {
		if len(s.tables) >= 2 {
			jobs = append(jobs, sel.jobsWith(s, sel.chosen)...)
		}
	}
	sel.warmAhead(jobs)
	var again []*Candidate
	for _, s := range touched {
		sel.changed[s] = sel.step
		sel.dirty[s] = true
		if len(s.tables) < 2 {
			continue // on one table an index rarely makes another pay: priced when needed
		}
		before := s.cur
		sel.refresh(s, sel.chosen)
		if s.cur != before {
			again = append(again, sel.owners[s]...)
		}
	}
	for _, c := range sel.cands {
		if widens(c, opt.c) {
			again = append(again, c)
		}
	}
	return again
}

// prune: greedy choices made early can be superseded by later ones. Take away, one at a time,
// the chosen index whose own net benefit (what the workload loses without it, minus its write
// cost) is smallest, while that is below the threshold. It reports whether any went.
func (sel *selection) prune() bool {
	o := sel.o
	pruned := false
	for len(sel.chosen) > 1 {
		sel.warmWithout(sel.served())
		var worst *Candidate
		worstNet := math.Inf(1)
		for _, c := range sel.chosen {
			without := sel.chosenWithout(c)
			loss, speedup, lostMs := 0.0, 0.0, 0.0
			for _, s := range sel.serves[c] {
				if !sel.uses(s, sel.chosen, c) {
					continue
				}
				in, inV, err1 := sel.priceV(s, sel.chosen)
				wo, woV, err2 := sel.priceV(s, without)
				if err1 == nil && err2 == nil {
					loss += float64(s.ws.Calls) * (wo - in)
					lostMs += sel.savedMs(s, wo, in)
					if sel.frequent(s) {
						speedup = max(speedup, speedupOf(woV, inV, wo, in))
					}
				}
			}
			if (speedup >= o.MinSpeedup || lostMs >= sel.timeThreshold) && loss > writeCost(sel.w, sel.cat, c) {
				continue // it keeps a frequent statement fast: not a candidate for pruning
			}
			if net := loss - writeCost(sel.w, sel.cat, c); net < worstNet {
				worst, worstNet = c, net
			}
		}
		if worstNet >= sel.threshold {
			break
		}
		sel.chosen = slices.DeleteFunc(sel.chosen, func(x *Candidate) bool { return x == worst })
		sel.dropped[worst], pruned = true, true
		sel.usedBytes -= sel.sizes[worst]
	}
	return pruned
}

// warmAhead hands a Warmer with more than one session the calls the selection is about to make
// one at a time, so that its helpers plan them in parallel.
func (sel *selection) warmAhead(jobs []CostJob) {
	if wm, ok := sel.coster.(Warmer); ok && wm.Sessions() > 1 && len(jobs) > 0 {
		wm.Warm(sel.ctx, jobs)
	}
}

// warmWithout warms what a round of prune (or propose, with every statement) prices: the
// statements with the chosen set (which says whether each uses an index), then without each
// chosen index, where they use it.
func (sel *selection) warmWithout(stmts []*stmt) {
	if wm, ok := sel.coster.(Warmer); !ok || wm.Sessions() < 2 {
		return
	}
	var jobs []CostJob
	for _, s := range stmts {
		jobs = append(jobs, sel.jobsWith(s, sel.chosen)...)
	}
	sel.warmAhead(jobs)
	jobs = nil
	for _, c := range sel.chosen {
		without := sel.chosenWithout(c)
		for _, s := range sel.serves[c] {
			if sel.uses(s, sel.chosen, c) {
				jobs = append(jobs, sel.jobsWith(s, without)...)
			}
		}
	}
	sel.warmAhead(jobs)
}

// chosenWithout is the chosen set less c.
func (sel *selection) chosenWithout(c *Candidate) []*Candidate {
	return slices.DeleteFunc(slices.Clone(sel.chosen), func(x *Candidate) bool { return x == c })
}

// served are the statements some chosen index serves.
func (sel *selection) served() []*stmt {
	var out []*stmt
	seen := map[*stmt]bool{}
	for _, c := range sel.chosen {
		for _, s := range sel.serves[c] {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// propose prices the final set and each chosen index's own effect, measured by taking it away
// from the final set, into the result's proposals.
func (sel *selection) propose() {
	res := sel.res
	sel.warmWithout(sel.stmts)
	final := map[*stmt]float64{}
	for _, s := range sel.stmts {
		c, err := sel.price(s, sel.chosen)
		if err != nil {
			c = s.cur
		}
		final[s] = c
		res.FinalCost += float64(s.ws.Calls) * c
	}
	for _, c := range sel.chosen {
		without := sel.chosenWithout(c)
		_, estimated := sel.coster.(*Estimator)
		estimated = estimated || c.Estimated
		prop := &Proposal{Candidate: c, SizeBytes: sel.sizes[c], WriteCost: writeCost(sel.w, sel.cat, c), BreaksHOT: hotColumns(sel.w, c), Estimated: estimated}
		for _, s := range sel.stmts {
			if !slices.Contains(sel.serves[c], s) {
				continue
			}
			if !sel.uses(s, sel.chosen, c) {
				continue
			}
			before, err := sel.price(s, without)
			if err != nil || before <= final[s] {
				continue
			}
			prop.Effects = append(prop.Effects, Effect{Fingerprint: s.ws.Fingerprint, Query: s.ws.Query, Calls: s.ws.Calls, Before: before, After: final[s]})
			prop.Benefit += float64(s.ws.Calls) * (before - final[s])
		}
		if sel.reference > 0 {
			prop.Share = prop.Benefit / sel.reference
		}
		slices.SortFunc(prop.Effects, func(a, b Effect) int {
			return cmp.Compare(float64(b.Calls)*(b.Before-b.After), float64(a.Calls)*(a.Before-a.After))
		})
		prop.Replaces = replaced(sel.cat, c)
		prop.Alternatives = alternatives(c, sel.cands, sel.chosen, sel.serves)
		res.Proposals = append(res.Proposals, prop)
	}
	slices.SortFunc(res.Proposals, func(a, b *Proposal) int {
		if c := cmp.Compare(b.Benefit, a.Benefit); c != 0 {
			return c
		}
		return cmp.Compare(a.Candidate.Name, b.Candidate.Name)
	})
}

// cost plans a statement's texts (its sampled variants, each with the application's literal
// constants, or its normalised text) under a configuration and returns their mean cost.
//
// Candidates HypoPG cannot simulate (trigram GIN) are priced by the estimator: the planner's cost
// without them, scaled by how much the estimator says they save.
// ErrInterrupted marks a selection stopped by its context (SIGINT, SIGTERM): no partial answer.
var ErrInterrupted = errors.New("interrupted")

// Interrupted wraps a context's error as ErrInterrupted.
func Interrupted(err error) error {
	return fmt.Errorf("%w (%w): no index was chosen", ErrInterrupted, err)
}

// RefusedCandidate is a candidate the planner's what-if (HypoPG) could not build.
type RefusedCandidate struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// baselineJobs are the Cost calls the selection begins with, which a Warmer can make ahead, in
// parallel: every statement without the candidates (and with the planned indexes).
func baselineJobs(stmts []*stmt, planned []*Candidate) []CostJob {
	var jobs []CostJob
	for _, s := range stmts {
		jobs = append(jobs, s.jobs(nil)...)
		if len(planned) > 0 {
			jobs = append(jobs, s.jobs(planned)...)
		}
	}
	return jobs
}

// candidateJobs are the calls of the first greedy round, for a Warmer once the baseline is
// priced: each candidate that can pass the bars alone (beside the planned indexes) on the
// statements it is priced on.
func (sel *selection) candidateJobs() []CostJob {
	var jobs []CostJob
	for _, c := range sel.cands {
		if sel.hopeless(c) {
			continue
		}
		config := append(slices.Clone(sel.o.Planned), c)
		for _, s := range sel.own[c] {
			jobs = append(jobs, s.jobs(config)...)
		}
	}
	return jobs
}

// jobs are the Cost calls that price s under config.
func (s *stmt) jobs(config []*Candidate) []CostJob {
	var jobs []CostJob
	for i, text := range s.texts {
		jobs = append(jobs, CostJob{Config: config, Fingerprint: fmt.Sprintf("%s/%d", s.ws.Fingerprint, i), Text: text, Params: s.params[i], Tables: s.tables})
	}
	return jobs
}

// boundHopeless turns hopeless on; a test turns it off to show that the bound changes no choice.
var boundHopeless = true

// hopeless: c cannot pass the bars whatever it saves. What it saves its statements is at most all
// they cost now (and what it adds to the writes only lowers that), the measured time it saves at
// most all of theirs, and only a frequent statement's speedup counts on its own: where even
// those bounds fall short, no plan could make it pass, and it is not planned at all.
func (sel *selection) hopeless(c *Candidate) bool {
	if !boundHopeless {
		return false
	}
	saved, savedMs := 0.0, 0.0
	// Widening a chosen index whose writes cost more than c's (an INCLUDE c does not have) gives
	// that difference back.
	for _, ch := range sel.chosen {
		if widens(c, ch) {
			saved = max(saved, writeCost(sel.w, sel.cat, ch)-writeCost(sel.w, sel.cat, c))
		}
	}
	for _, s := range sel.own[c] {
		if sel.frequent(s) {
			return false
		}
		sel.refresh(s, sel.chosen) // a pruned index makes costs rise again
		saved += float64(s.ws.Calls) * s.cur
		if s.ref > 0 {
			savedMs += s.ws.TotalExecMs * s.cur / s.ref
		}
	}
	return saved <= sel.threshold && savedMs < sel.timeThreshold
}

func (s *stmt) cost(ctx context.Context, coster Coster, config []*Candidate) (float64, error) {
	c, _, err := s.costVariants(ctx, coster, config, nil)
	return c, err
}

// costHiding is cost with the existing indexes in hide invisible to the planner.
func (s *stmt) costHiding(ctx context.Context, coster Coster, config []*Candidate, hide []string) (float64, error) {
	c, _, err := s.costVariants(ctx, coster, config, hide)
	return c, err
}

// costVariants is costHiding, with the cost of each variant of each text (see Plan.Variants).
func (s *stmt) costVariants(ctx context.Context, coster Coster, config []*Candidate, hide []string) (float64, []float64, error) {
	c, v, _, err := s.plan(ctx, coster, config, hide)
	return c, v, err
}

// plan is costVariants, with the indexes the plans use (candidates by signature).
func (s *stmt) plan(ctx context.Context, coster Coster, config []*Candidate, hide []string) (float64, []float64, []string, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, nil, err
	}
	var variants []float64
	var used []string
	total := 0.0
	_, isEstimator := coster.(*Estimator)
	for i, text := range s.texts {
		fp := fmt.Sprintf("%s/%d", s.ws.Fingerprint, i)
		p, err := coster.Cost(ctx, config, hide, fp, text, s.params[i], s.tables)
		if err != nil && isDenied(err) && i < len(s.readTexts) && s.readTexts[i] != "" {
			// The role may read but not write: from now on the statement is planned as the
			// query that finds its rows (query.ReadForm), which is what indexes change.
			s.texts[i], s.readTexts[i] = s.readTexts[i], ""
			text = s.texts[i]
			p, err = coster.Cost(ctx, config, hide, fp, text, s.params[i], s.tables)
		}
		if err != nil {
			return 0, nil, nil, err
		}
		used = append(used, p.Indexes...)
		c, factor := p.Cost, 1.0
		if !isEstimator && s.est != nil && slices.ContainsFunc(config, func(x *Candidate) bool { return x.Estimated }) {
			plain := slices.DeleteFunc(slices.Clone(config), func(x *Candidate) bool { return x.Estimated })
			without, err1 := s.est.Cost(ctx, plain, nil, fp, text, nil, s.tables)
			with, err2 := s.est.Cost(ctx, config, nil, fp, text, nil, s.tables)
			if err1 == nil && err2 == nil && without.Cost > 0 && with.Cost < without.Cost {
				factor = with.Cost / without.Cost
			}
		}
		total += c * factor
		if len(p.Variants) == 0 {
			variants = append(variants, c*factor)
		}
		for _, v := range p.Variants {
			variants = append(variants, v*factor)
		}
	}
	return total / float64(len(s.texts)), variants, used, nil
}

// speedupOf is how many times cheaper a statement gets from variants before to after: the
// geometric mean over its variants (each set of representative values, and the generic plan),
// so that one value's expensive plan (status = the 90 % value) does not hide what the index does
// for the others. Without comparable variants it is the ratio of the means.
func speedupOf(before, after []float64, meanBefore, meanAfter float64) float64 {
	logs, n := 0.0, 0
	if len(before) == len(after) {
		for i := range before {
			if b, a := before[i], after[i]; b > 0 && a > 0 && !math.IsNaN(a) && !math.IsNaN(b) {
				logs += math.Log(b / a)
				n++
			}
		}
	}
	if n == 0 {
		if meanAfter <= 0 {
			return 0
		}
		return meanBefore / meanAfter
	}
	return math.Exp(logs / float64(n))
}

func nameOf(c *Candidate) string {
	if c == nil {
		return ""
	}
	return c.Name
}

// optionQueue orders the greedy's options, the most saved per byte first (ties by name, so the
// choice is repeatable).
type optionQueue struct {
	items []queued
	in    map[*Candidate]int // how many of its options wait
}

type queued struct {
	c       *Candidate
	perByte float64
	v       any
}

func (q *optionQueue) Len() int { return len(q.items) }
func (q *optionQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	return a.perByte > b.perByte || a.perByte == b.perByte && a.c.Name < b.c.Name
}
func (q *optionQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *optionQueue) Push(x any)    { q.items = append(q.items, x.(queued)) }
func (q *optionQueue) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}
func (q *optionQueue) push(c *Candidate, perByte float64, v any) {
	if q.in == nil {
		q.in = map[*Candidate]int{}
	}
	q.in[c]++
	heap.Push(q, queued{c: c, perByte: perByte, v: v})
}
func (q *optionQueue) pop() any {
	x := heap.Pop(q).(queued)
	q.in[x.c]--
	return x.v
}
func (q *optionQueue) has(c *Candidate) bool { return q.in[c] > 0 }

func mergeStmts(a, b []*stmt) []*stmt {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// indexColumns lists the columns an index stores or tests: keys, INCLUDE and the predicate's.
func indexColumns(c *Candidate) []string {
	var cols []string
	for _, k := range c.Keys {
		if k.Column != "" {
			cols = append(cols, k.Column)
		} else {
			cols = append(cols, identWord(k.Expr))
		}
	}
	cols = append(cols, c.Include...)
	if c.Where != "" {
		cols = append(cols, strings.Fields(c.Where)[0])
	}
	return cols
}

// hotColumns are the index's columns that the workload's UPDATEs write: each such UPDATE can no
// longer be a HOT update.
func hotColumns(w *workload.Workload, c *Candidate) []string {
	cols := indexColumns(c)
	var out []string
	for _, ws := range w.Statements {
		if ws.Model == nil || ws.Model.Kind != workload.KindUpdate {
			continue
		}
		for _, sc := range ws.Model.SetColumns {
			for _, col := range cols {
				if sc.Table == c.Table && (sc.Column == col || strings.Contains(col, sc.Column)) && !slices.Contains(out, sc.Column) {
					out = append(out, sc.Column)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// writeCost estimates the weighted cost an index adds to the workload's writes on its table.
func writeCost(w *workload.Workload, cat *dbstate.Catalog, c *Candidate) float64 {
	nIndexes := float64(len(cat.Indexes(c.Table)) + 1)
	cols := indexColumns(c)
	total := 0.0
	for _, ws := range w.Statements {
		st := ws.Model
		if st == nil || !st.Writes(c.Table) {
			continue
		}
		rows := max(float64(ws.Rows), float64(ws.Calls))
		switch st.Kind {
		case workload.KindInsert, workload.KindMerge:
			total += rows * entryCost
		case workload.KindUpdate:
			for _, sc := range st.SetColumns {
				if sc.Table == c.Table && slices.ContainsFunc(cols, func(col string) bool { return col == sc.Column || strings.Contains(col, sc.Column) }) {
					total += rows * (entryCost + hotPenalty*nIndexes*entryCost)
					break
				}
			}
		}
	}
	return total
}

// replaced lists existing plain indexes whose keys lead c's (same method and predicate): c serves
// everything they serve.
func replaced(cat *dbstate.Catalog, c *Candidate) []string {
	var out []string
	for _, ix := range cat.Indexes(c.Table) {
		if !ix.Valid || ix.Unique || ix.Constraint != "" || ix.Method != c.Method || ix.Predicate != "" && !samePredicate(ix.Predicate, c.Where) ||
			ix.Predicate == "" && c.Where != "" || len(ix.Keys) >= len(c.Keys) {
			continue
		}
		if slices.EqualFunc(ix.Keys, c.Keys[:len(ix.Keys)], sameKey) {
			out = append(out, ix.Key())
		}
	}
	return out
}

// alternatives explains, for the statements c serves, why the other candidates for them lost.
func alternatives(c *Candidate, cands, chosen []*Candidate, serves map[*Candidate][]*stmt) []string {
	var out []string
	for _, o := range cands {
		if o == c || slices.Contains(chosen, o) {
			continue
		}
		shared := false
		for _, s := range serves[o] {
			shared = shared || slices.Contains(serves[c], s)
		}
		if !shared || !slices.ContainsFunc(o.Serves, func(fp string) bool { return slices.Contains(c.Serves, fp) }) {
			continue
		}
		why := "saved less per byte once the chosen indexes were in place"
		switch {
		case o.Estimated:
			why = "the planner cannot price it through HypoPG (" + o.Method + "); consider it by hand"
		case len(o.Keys) < len(c.Keys) && slices.EqualFunc(o.Keys, c.Keys[:len(o.Keys)], sameKey) && o.Where == c.Where:
			why = "a prefix of " + c.Name + ", which serves its statements too"
		}
		out = append(out, fmt.Sprintf("%s: %s", o.Name, why))
		if len(out) == 5 {
			break
		}
	}
	return out
}
