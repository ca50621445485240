package indexes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/bookedbarber/pgtune/internal/connect"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// ErrNoHide means HypoPG is older than 1.4, which added hypopg_hide_index: dropping an existing
// index cannot be priced with the planner.
var ErrNoHide = errors.New("HypoPG before 1.4 cannot hide an existing index from the planner (ALTER EXTENSION hypopg UPDATE, with HypoPG 1.4+ installed)")

// ErrNoHypoPG means the database has no HypoPG: costs must be estimated instead of planned.
var ErrNoHypoPG = errors.New("HypoPG is not installed in this database (CREATE EXTENSION hypopg; its package is postgresql-<major>-hypopg)")

// WhatIf prices statements under hypothetical indexes with the server's own planner, through
// HypoPG. Hypothetical indexes live in one backend, so WhatIf holds one connection for its whole
// life and must not be shared. It only plans (EXPLAIN without ANALYZE); it never executes a
// statement or writes anything.
type WhatIf struct {
	conn    *pgx.Conn
	version int
	schema  string // HypoPG's schema, quoted
	// CanHide is set when HypoPG is 1.4 or newer (hypopg_hide_index).
	CanHide bool

	active map[string]hypo       // signature → the hypothetical index now in place
	cands  map[string]*Candidate // signature → candidate, for what is in place
	hidden map[string]uint32     // existing index ("schema.name") → oid, hidden now
	cache  map[string]Plan       // statement + configuration → plan
	sizes  map[string]float64    // signature → estimated size in bytes
	// types are each text's parameter types, once planned; stepwise the texts whose batch
	// failed (see explain).
	types    map[string][]string
	stepwise map[string]bool
	typeName map[uint32]string // type OID → its name (Describe)

	// Explains counts the EXPLAINs actually run (cache misses).
	Explains int

	// See Parallel; helpers are the sessions Warm opened, until Release.
	helpers       []*WhatIf
	helpersFailed bool
	sessions      int
	dial          func(context.Context) (*pgx.Conn, error)
	log           *slog.Logger
}

type hypo struct {
	oid  uint32
	name string // HypoPG's name for it, as plans show it
}

// Plan is what the planner says about a statement under a configuration.
type Plan struct {
	Cost float64 `json:"cost"`
	// Indexes are the indexes the plan uses: real ones by name, hypothetical ones by the
	// signature of the candidate they stand for.
	Indexes []string `json:"indexes,omitempty"`
	// Variants are the generic plan's cost and each custom plan's (NaN where one failed), in
	// the order of the representative sets: what a call with each set of values would cost.
	Variants []float64 `json:"-"`
}

const (
	hypopgQuery  = connect.Marker + `SELECT pg_catalog.quote_ident(n.nspname), e.extversion FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'`
	hypoCreate   = connect.Marker + `SELECT h.indexrelid, h.indexname, %s.hypopg_relation_size(h.indexrelid) FROM %s.hypopg_create_index($1) h`
	hypoDrop     = connect.Marker + `SELECT %s.hypopg_drop_index($1)`
	hypoHide     = connect.Marker + `SELECT i.oid, %s.hypopg_hide_index(i.oid) FROM (SELECT $1::pg_catalog.regclass::pg_catalog.oid AS oid) i`
	hypoUnhide   = connect.Marker + `SELECT %s.hypopg_unhide_index($1)`
	hypoReset    = connect.Marker + `SELECT %s.hypopg_reset()`
	paramTypes   = connect.Marker + `SELECT coalesce(parameter_types::text[], '{}') FROM pg_catalog.pg_prepared_statements WHERE name = $1`
	setParam     = connect.Marker + `SELECT pg_catalog.set_config($1, $2, true)`
	preparedName = "pgtune_whatif"
)

// NewWhatIf prepares conn for what-if planning. versionNum is server_version_num.
func NewWhatIf(ctx context.Context, conn *pgx.Conn, versionNum int) (*WhatIf, error) {
	var schema, version string
	err := conn.QueryRow(ctx, hypopgQuery).Scan(&schema, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoHypoPG
	}
	if err != nil {
		return nil, fmt.Errorf("look for HypoPG: %w", err)
	}
	w := &WhatIf{conn: conn, version: versionNum, schema: schema, active: map[string]hypo{}, cands: map[string]*Candidate{}, hidden: map[string]uint32{},
		cache: map[string]Plan{}, sizes: map[string]float64{}, types: map[string][]string{}, stepwise: map[string]bool{}, CanHide: versionAtLeast(version, 1, 4)}
	// Every transaction on this connection is read-only from here on: what-if planning must not
	// be able to write, whatever a statement's text says.
	if _, err := conn.Exec(ctx, connect.Marker+"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"); err != nil {
		return nil, fmt.Errorf("make the what-if session read-only: %w", err)
	}
	// Costing a merge join makes the planner read both join keys' actual minimum and maximum
	// from their indexes (selfuncs.c, get_actual_variable_range), and each such probe counts in
	// pg_stat_user_indexes.idx_scan: planning the workload's joins added 200-300 scans a run to
	// the primary keys, and the unused-index audit would read pgtune's own planning as use. Merge
	// joins are left out of what-if plans, with and without the candidates alike, so the
	// comparison stays like for like; OLTP plans seldom use them.
	if _, err := conn.Exec(ctx, connect.Marker+"SET enable_mergejoin = off"); err != nil {
		return nil, fmt.Errorf("what-if session: %w", err)
	}
	// EXPLAIN without ANALYZE still starts the executor, and a plan whose cost passes
	// jit_above_cost (a sequential scan of a big table, the baseline of most statements) loads
	// the JIT provider into the backend: 45-300 ms on the session's first such plan, on every
	// session, for nothing, since a plan's costs do not depend on JIT. Off, for this session only.
	if _, err := conn.Exec(ctx, connect.Marker+"SET jit = off"); err != nil {
		return nil, fmt.Errorf("what-if session: %w", err)
	}
	// Its EXPLAINs leave no row in pg_stat_statements where the role may ask for that.
	connect.Untrack(ctx, conn)
	if _, err := conn.Exec(ctx, fmt.Sprintf(hypoReset, schema)); err != nil {
		return nil, fmt.Errorf("reset HypoPG: %w", err)
	}
	return w, nil
}

// Close removes every hypothetical index and unhides every index (the connection may go back to
// a pool).
func (w *WhatIf) Close(ctx context.Context) error {
	w.Release()
	_, err := w.conn.Exec(ctx, fmt.Sprintf(hypoReset, w.schema))
	if err == nil && w.CanHide {
		_, err = w.conn.Exec(ctx, connect.Marker+fmt.Sprintf("SELECT %s.hypopg_unhide_all_indexes()", w.schema))
	}
	return err
}

// Configure makes exactly these candidates exist (hypothetically) and these existing indexes
// ("schema.name") invisible to the planner. Cost calls it as needed, sending the changes in the
// same round trip as the EXPLAINs that follow them where it can. The changes go in one pipelined
// round trip; on an error (HypoPG refusing a candidate) what was done before it is kept and the
// rest is not sent.
func (w *WhatIf) Configure(ctx context.Context, cands []*Candidate, hide []string) error {
	changes, err := w.changesFor(cands, hide)
	if err != nil || len(changes) == 0 {
		return err
	}
	return w.sendChanges(ctx, changes)
}

// sendChanges sends changes in one round trip and applies their results.
func (w *WhatIf) sendChanges(ctx context.Context, changes []change) error {
	if len(changes) == 0 {
		return nil
	}
	b := &pgconn.Batch{}
	for _, c := range changes {
		b.ExecParams(c.sql, c.args, nil, nil, nil)
	}
	results, err := w.conn.PgConn().ExecBatch(ctx, b).ReadAll()
	if aerr := applyChanges(changes, results); aerr != nil {
		return aerr
	}
	return err
}

// change is one statement of a configuration change, and what its result does to w's state.
type change struct {
	sql   string
	args  [][]byte
	apply func(r *pgconn.Result) error
}

// applyChanges applies the results of changes, in order, up to the first that failed (the server
// ran none after it), and returns that one's error.
func applyChanges(changes []change, results []*pgconn.Result) error {
	for i, c := range changes {
		if i >= len(results) {
			return c.apply(&pgconn.Result{Err: errors.New("not run: the batch stopped before it")})
		}
		if err := c.apply(results[i]); err != nil {
			return err
		}
	}
	return nil
}

// changesFor lists the statements that make cands and hide the planner's view: HypoPG drops,
// creations (with their sizes), unhides and hides.
func (w *WhatIf) changesFor(cands []*Candidate, hide []string) ([]change, error) {
	if len(hide) > 0 && !w.CanHide {
		return nil, ErrNoHide
	}
	want := map[string]*Candidate{}
	for _, c := range cands {
		if !c.Estimated {
			want[c.Signature()] = c
		}
	}
	var changes []change
	for sig, h := range w.active {
		if want[sig] == nil {
			changes = append(changes, change{sql: fmt.Sprintf(hypoDrop, w.schema), args: [][]byte{[]byte(strconv.FormatUint(uint64(h.oid), 10))},
				apply: func(r *pgconn.Result) error {
					if r.Err != nil {
						return fmt.Errorf("drop hypothetical index: %w", r.Err)
					}
					delete(w.active, sig)
					delete(w.cands, sig)
					return nil
				}})
		}
	}
	for sig, c := range want {
		if _, ok := w.active[sig]; ok {
			continue
		}
		changes = append(changes, change{sql: fmt.Sprintf(hypoCreate, w.schema, w.schema), args: [][]byte{[]byte(c.PlainDefinition())},
			apply: func(r *pgconn.Result) error {
				row, err := oneRow(r, 3)
				if err != nil {
					return fmt.Errorf("hypothetical %s: %w", c.PlainDefinition(), err)
				}
				oid, err1 := strconv.ParseUint(string(row[0]), 10, 32)
				size, err2 := strconv.ParseFloat(string(row[2]), 64)
				if err := errors.Join(err1, err2); err != nil {
					return fmt.Errorf("hypothetical %s: %w", c.PlainDefinition(), err)
				}
				w.active[sig] = hypo{oid: uint32(oid), name: string(row[1])}
				w.cands[sig] = c
				if _, ok := w.sizes[sig]; !ok {
					w.sizes[sig] = size
				}
				return nil
			}})
	}
	for name, oid := range w.hidden {
		if !slices.Contains(hide, name) {
			changes = append(changes, change{sql: fmt.Sprintf(hypoUnhide, w.schema), args: [][]byte{[]byte(strconv.FormatUint(uint64(oid), 10))},
				apply: func(r *pgconn.Result) error {
					if r.Err != nil {
						return fmt.Errorf("unhide %s: %w", name, r.Err)
					}
					delete(w.hidden, name)
					return nil
				}})
		}
	}
	for _, name := range hide {
		if _, ok := w.hidden[name]; ok {
			continue
		}
		changes = append(changes, change{sql: fmt.Sprintf(hypoHide, w.schema), args: [][]byte{[]byte(name)},
			apply: func(r *pgconn.Result) error {
				row, err := oneRow(r, 2)
				if err != nil {
					return fmt.Errorf("hide %s: %w", name, err)
				}
				oid, err := strconv.ParseUint(string(row[0]), 10, 32)
				if err != nil {
					return fmt.Errorf("hide %s: %w", name, err)
				}
				w.hidden[name] = uint32(oid) // its second column is false where it was hidden already
				return nil
			}})
	}
	return changes, nil
}

// oneRow is a result's only row, of n columns (text format).
func oneRow(r *pgconn.Result, n int) ([][]byte, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	if len(r.Rows) != 1 || len(r.Rows[0]) != n {
		return nil, fmt.Errorf("%d rows, want one of %d columns", len(r.Rows), n)
	}
	return r.Rows[0], nil
}

// Size is HypoPG's estimate of a candidate's size in bytes, creating it hypothetically if
// needed.
func (w *WhatIf) Size(ctx context.Context, c *Candidate) (float64, error) {
	if s, ok := w.sizes[c.Signature()]; ok {
		return s, nil
	}
	if c.Estimated {
		return 0, nil // HypoPG cannot build it: Select sizes it with the estimator
	}
	var config []*Candidate
	for sig := range w.active {
		config = append(config, w.cands[sig])
	}
	if err := w.Configure(ctx, append(config, c), w.hiddenNames()); err != nil {
		return 0, err
	}
	return w.sizes[c.Signature()], nil
}

func (w *WhatIf) hiddenNames() []string {
	var out []string
	for name := range w.hidden {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// plannable is config without the candidates HypoPG cannot simulate.
func plannable(config []*Candidate) []*Candidate {
	return slices.DeleteFunc(slices.Clone(config), func(c *Candidate) bool { return c.Estimated })
}

// cacheKey names a statement's text under a configuration: its plan.
func (w *WhatIf) cacheKey(config []*Candidate, hide []string, fingerprint string, tables []string) string {
	return fingerprint + "#" + configKey(plannable(config), hide, tables)
}

// configKey names a configuration restricted to the given tables, for the cache: a statement's
// plan depends only on the indexes of the tables it reads.
func configKey(config []*Candidate, hide []string, tables []string) string {
	var parts []string
	for _, c := range config {
		if slices.Contains(tables, c.Table) {
			parts = append(parts, c.Signature())
		}
	}
	for _, name := range hide {
		parts = append(parts, "-"+name)
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), ";")
}

// Cost plans a statement (its normalised text, $n parameters and all) with the candidates in
// config in place and the existing indexes in hide hidden. tables are the catalog keys of the
// tables it reads. Plans are cached by statement and the configuration of its own tables, and
// HypoPG is only touched on a cache miss.
func (w *WhatIf) Cost(ctx context.Context, config []*Candidate, hide []string, fingerprint, text string, params [][]string, tables []string) (Plan, error) {
	// HypoPG cannot simulate GIN or GiST: such candidates are priced by the estimator (see
	// Select), and left out here.
	config = plannable(config)
	key := w.cacheKey(config, hide, fingerprint, tables)
	if p, ok := w.cache[key]; ok {
		return p, nil
	}
	changes, err := w.changesFor(config, hide)
	if err != nil {
		return Plan{}, err
	}
	p, err := w.explain(ctx, text, params, changes)
	if err != nil {
		return Plan{}, err
	}
	w.Explains++
	// Name hypothetical indexes by the candidates they stand for.
	for i, name := range p.Indexes {
		for sig, h := range w.active {
			if h.name == name {
				p.Indexes[i] = sig
			}
		}
	}
	w.cache[key] = p
	return p, nil
}

// explain runs EXPLAIN (FORMAT JSON) on the generic plan of text: the plan PostgreSQL uses for
// any parameter values. The statement is prepared under one fixed name and executed with NULLs
// under plan_cache_mode = force_generic_plan (a custom plan would fold the NULLs into a plan that
// reads nothing). With sets of representative values (see RepresentativeSets) it also plans the
// statement with each (a custom plan, which sees the real selectivity of its ranges and of the
// value an equality asks for) and returns the mean of the generic cost and the customs' mean: a
// prepared statement runs custom plans first and the generic one once it is not dearer.
//
// Every text sent here is one of a few fixed shapes, whatever the statement and its values, so
// that pg_stat_statements (which keys utility statements by their text before 16) gains a
// handful of rows per run, not one per EXPLAIN: PREPARE is not tracked, the prepared name never
// changes, and the representative values travel as bound parameters of set_config, read back by
// current_setting in the EXECUTE (whose text then depends only on the parameters' types).
//
// A text goes in one round trip: the same statements, sent as one pipelined batch
// (explainBatch), once its parameter types are known (one round trip the first time, see
// paramTypesOf, or one for all the texts, see Describe), and so do the changes of hypothetical
// indexes it is to be planned under, ahead of it. When that fails (a statement the server cannot
// prepare) or the batch does (a representative value of the wrong type), they go one by one, so
// that a failure loses only its own custom plan and the error is the statement's own; a change
// HypoPG refuses is the error.
func (w *WhatIf) explain(ctx context.Context, text string, sets [][]string, changes []change) (Plan, error) {
	text = trimText(text)
	if _, ok := w.types[text]; !ok && !w.stepwise[text] {
		if types, err := w.paramTypesOf(ctx, text); err == nil {
			w.types[text] = types
		} else if ctx.Err() != nil {
			return Plan{}, err
		} else {
			w.stepwise[text] = true
		}
	}
	if types, ok := w.types[text]; ok && !w.stepwise[text] {
		p, err := w.explainBatch(ctx, text, types, sets, changes)
		changes = nil // sent, and applied as far as they went
		var ce *changeError
		if err == nil {
			return p, nil
		}
		if ctx.Err() != nil || errors.As(err, &ce) {
			return Plan{}, err
		}
		// Whatever the batch left behind goes; the text is planned step by step from now on.
		w.conn.Exec(ctx, connect.Marker+"ROLLBACK")                 //nolint:errcheck // none may be open
		w.conn.Exec(ctx, connect.Marker+"DEALLOCATE "+preparedName) //nolint:errcheck // it may not exist
		w.stepwise[text] = true
	}
	// The changes on their own, where the text cannot take them along.
	if err := w.sendChanges(ctx, changes); err != nil {
		return Plan{}, err
	}
	return w.explainStepwise(ctx, text, sets)
}

// changeError is a configuration change that failed in explain's batch.
type changeError struct{ err error }

func (e *changeError) Error() string { return e.err.Error() }
func (e *changeError) Unwrap() error { return e.err }

// paramTypesOf prepares text and reads its parameters' types, in one round trip; the prepared
// statement is gone again afterwards.
func (w *WhatIf) paramTypesOf(ctx context.Context, text string) ([]string, error) {
	b := &pgconn.Batch{}
	b.ExecParams(connect.Marker+"PREPARE "+preparedName+" AS "+text, nil, nil, nil, nil)
	b.ExecParams(paramTypes, [][]byte{[]byte(preparedName)}, nil, nil, nil)
	b.ExecParams(connect.Marker+"DEALLOCATE "+preparedName, nil, nil, nil, nil)
	results, err := w.conn.PgConn().ExecBatch(ctx, b).ReadAll()
	if err != nil {
		if ctx.Err() == nil {
			w.conn.Exec(ctx, connect.Marker+"DEALLOCATE "+preparedName) //nolint:errcheck // it may not exist
		}
		return nil, err
	}
	if len(results) != 3 || len(results[1].Rows) != 1 || len(results[1].Rows[0]) != 1 {
		return nil, errors.New("parameters of the prepared statement: no row")
	}
	var types []string
	if err := w.conn.TypeMap().Scan(pgtype.TextArrayOID, pgtype.TextFormatCode, results[1].Rows[0][0], &types); err != nil {
		return nil, fmt.Errorf("parameters of the prepared statement: %w", err)
	}
	return types, nil
}

// explainBatch is explain's round trip: PREPARE, the generic EXPLAIN, each custom one with its
// values set, ROLLBACK and DEALLOCATE, pipelined. The texts are those explainStepwise sends.
func (w *WhatIf) explainBatch(ctx context.Context, text string, types []string, sets [][]string, changes []change) (Plan, error) {
	n := len(types)
	b := &pgconn.Batch{}
	for _, c := range changes {
		b.ExecParams(c.sql, c.args, nil, nil, nil)
	}
	exec := func(sql string, args ...string) {
		var vals [][]byte
		for _, a := range args {
			vals = append(vals, []byte(a))
		}
		b.ExecParams(sql, vals, nil, nil, nil)
	}
	exec(connect.Marker + "PREPARE " + preparedName + " AS " + text)
	exec(connect.Marker + "BEGIN")
	exec(connect.Marker + "SET LOCAL plan_cache_mode = force_generic_plan")
	exec(connect.Marker + "EXPLAIN (FORMAT JSON) " + execute(preparedName, slices.Repeat([]string{"NULL"}, n)))
	explains := []int{3}
	count := 4
	var customs [][]string
	if n > 0 && len(sets) > 0 {
		exec(connect.Marker + "SET LOCAL plan_cache_mode = force_custom_plan")
		count++
		// The values stay set for the transaction: each set sends only those that differ from
		// the set before it (a skewed column's), all in one statement.
		last := map[int]string{}
		for _, params := range sets {
			if len(params) > n {
				customs = append(customs, nil)
				continue
			}
			params, args := customArgs(params, types)
			var pairs []string
			for i, v := range params {
				if prev, ok := last[i]; v != NullParam && (!ok || prev != v) {
					pairs = append(pairs, fmt.Sprintf("pgtune.p%d", i+1), v)
					last[i] = v
				}
			}
			if len(pairs) > 0 {
				exec(setParams(len(pairs)/2), pairs...)
				count++
			}
			exec(connect.Marker + "EXPLAIN (FORMAT JSON) " + execute(preparedName, args))
			explains = append(explains, count)
			count++
			customs = append(customs, params)
		}
	}
	exec(connect.Marker + "ROLLBACK")
	exec(connect.Marker + "DEALLOCATE " + preparedName)
	results, err := w.conn.PgConn().ExecBatch(ctx, b).ReadAll()
	if len(changes) > 0 {
		if aerr := applyChanges(changes, results); aerr != nil {
			if ctx.Err() != nil {
				return Plan{}, fmt.Errorf("explain: %w", err)
			}
			return Plan{}, &changeError{aerr}
		}
		results = results[len(changes):]
	}
	if err != nil {
		return Plan{}, fmt.Errorf("explain: %w", err)
	}
	plans := make([]Plan, 0, len(explains))
	for _, i := range explains {
		if i >= len(results) || len(results[i].Rows) == 0 || len(results[i].Rows[0]) == 0 {
			return Plan{}, errors.New("explain: no plan returned")
		}
		p, err := parsePlan(results[i].Rows[0][0])
		if err != nil {
			return Plan{}, err
		}
		plans = append(plans, p)
	}
	generic := plans[0]
	if len(plans) == 1 {
		return generic, nil
	}
	var got []Plan
	variants := []float64{generic.Cost}
	k := 1
	for _, params := range customs {
		if params == nil {
			variants = append(variants, math.NaN())
			continue
		}
		variants = append(variants, plans[k].Cost)
		got = append(got, plans[k])
		k++
	}
	return combine(generic, got, variants), nil
}

// setParams is the statement that sets n representative values (custom variables, for the
// transaction), one fixed text per n.
func setParams(n int) string {
	calls := make([]string, n)
	for i := range calls {
		calls[i] = fmt.Sprintf("pg_catalog.set_config($%d, $%d, true)", 2*i+1, 2*i+2)
	}
	return connect.Marker + "SELECT " + strings.Join(calls, ", ")
}

// customArgs pads a set of values with NULLs to the statement's parameters and gives the EXECUTE
// arguments that read them back (NULL where the value is NullParam).
func customArgs(params, types []string) ([]string, []string) {
	n := len(types)
	params = append(slices.Clone(params), slices.Repeat([]string{NullParam}, n-len(params))...)
	args := make([]string, n)
	for i := range args {
		args[i] = "NULL"
		if params[i] != NullParam {
			args[i] = fmt.Sprintf("CAST(pg_catalog.current_setting(%s) AS %s)", quote.Literal(fmt.Sprintf("pgtune.p%d", i+1)), types[i])
		}
	}
	return params, args
}

// combine is a statement's price from its generic plan and its custom ones: the mean of the
// generic cost and the customs' mean, and every index any of them uses.
func combine(generic Plan, customs []Plan, variants []float64) Plan {
	if len(customs) == 0 {
		return generic
	}
	total := 0.0
	indexes := slices.Clone(generic.Indexes)
	for _, c := range customs {
		total += c.Cost
		indexes = append(indexes, c.Indexes...)
	}
	return Plan{Cost: (generic.Cost + total/float64(len(customs))) / 2, Indexes: slices.Compact(slices.Sorted(slices.Values(indexes))), Variants: variants}
}

// explainStepwise is explain one statement at a time.
func (w *WhatIf) explainStepwise(ctx context.Context, text string, sets [][]string) (Plan, error) {
	if _, err := w.conn.Exec(ctx, connect.Marker+"PREPARE "+preparedName+" AS "+text); err != nil {
		return Plan{}, fmt.Errorf("prepare: %w", err)
	}
	defer w.conn.Exec(context.Background(), connect.Marker+"DEALLOCATE "+preparedName) //nolint:errcheck // best effort
	var types []string
	if err := w.conn.QueryRow(ctx, paramTypes, preparedName).Scan(&types); err != nil {
		return Plan{}, fmt.Errorf("parameters of the prepared statement: %w", err)
	}
	w.types[text] = types
	n := len(types)
	if _, err := w.conn.Exec(ctx, connect.Marker+"BEGIN"); err != nil {
		return Plan{}, err
	}
	defer w.conn.Exec(context.Background(), connect.Marker+"ROLLBACK") //nolint:errcheck // nothing to keep
	if _, err := w.conn.Exec(ctx, connect.Marker+"SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
		return Plan{}, err
	}
	generic, err := w.explainJSON(ctx, connect.Marker+"EXPLAIN (FORMAT JSON) "+execute(preparedName, slices.Repeat([]string{"NULL"}, n)))
	if err != nil || n == 0 || len(sets) == 0 {
		return generic, err
	}
	variants := []float64{generic.Cost}
	if _, err := w.conn.Exec(ctx, connect.Marker+"SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
		return generic, nil
	}
	var customs []Plan
	for _, params := range sets {
		if len(params) > n {
			variants = append(variants, math.NaN())
			continue
		}
		// Parameters the model does not see (beyond its last) are NULL, as NullParam is.
		params, args := customArgs(params, types)
		c, ok := w.custom(ctx, params, args)
		if !ok {
			variants = append(variants, math.NaN())
			continue
		}
		variants = append(variants, c.Cost)
		customs = append(customs, c)
	}
	return combine(generic, customs, variants), nil
}

// custom plans the prepared statement with one set of values. A value of the wrong type (rare:
// pg_stats holds text) only loses this custom plan, not the statement: a savepoint keeps the
// transaction usable.
func (w *WhatIf) custom(ctx context.Context, params, args []string) (Plan, bool) {
	if _, err := w.conn.Exec(ctx, connect.Marker+"SAVEPOINT custom"); err != nil {
		return Plan{}, false
	}
	for i, v := range params {
		if v == NullParam {
			continue
		}
		if _, err := w.conn.Exec(ctx, setParam, fmt.Sprintf("pgtune.p%d", i+1), v); err != nil {
			w.conn.Exec(ctx, connect.Marker+"ROLLBACK TO SAVEPOINT custom") //nolint:errcheck // the generic plan stands
			return Plan{}, false
		}
	}
	p, err := w.explainJSON(ctx, connect.Marker+"EXPLAIN (FORMAT JSON) "+execute(preparedName, args))
	if err != nil {
		w.conn.Exec(ctx, connect.Marker+"ROLLBACK TO SAVEPOINT custom") //nolint:errcheck // the generic plan stands
		return Plan{}, false
	}
	w.conn.Exec(ctx, connect.Marker+"RELEASE SAVEPOINT custom") //nolint:errcheck // the next SAVEPOINT nests otherwise
	return p, true
}

func execute(name string, args []string) string {
	if len(args) == 0 {
		return "EXECUTE " + name
	}
	return "EXECUTE " + name + "(" + strings.Join(args, ", ") + ")"
}

func (w *WhatIf) explainJSON(ctx context.Context, sql string) (Plan, error) {
	// The raw simple protocol: EXPLAIN of a statement with $n placeholders (GENERIC_PLAN) must
	// reach the server as written. pgx's own simple-protocol mode would substitute arguments for
	// the $n and fail with "insufficient arguments"; the extended protocol would make them
	// parameters of the EXPLAIN itself.
	results, err := w.conn.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return Plan{}, fmt.Errorf("explain: %w", err)
	}
	if len(results) == 0 || len(results[0].Rows) == 0 || len(results[0].Rows[0]) == 0 {
		return Plan{}, errors.New("explain: no plan returned")
	}
	return parsePlan(results[0].Rows[0][0])
}

type planNode struct {
	TotalCost float64    `json:"Total Cost"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

// parsePlan reads EXPLAIN (FORMAT JSON): the root's total cost and every index a node uses.
func parsePlan(raw []byte) (Plan, error) {
	var doc []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc) == 0 {
		return Plan{}, fmt.Errorf("unreadable EXPLAIN output: %w", err)
	}
	p := Plan{Cost: doc[0].Plan.TotalCost}
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.IndexName != "" && !slices.Contains(p.Indexes, n.IndexName) {
			p.Indexes = append(p.Indexes, n.IndexName)
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(doc[0].Plan)
	slices.Sort(p.Indexes)
	return p, nil
}

// versionAtLeast compares an extension version "major.minor[.patch]".
func versionAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(v, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
