package indexes

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/workload"
)

// HidingCoster is a Coster that can also make existing indexes invisible to the planner: WhatIf
// on HypoPG 1.4+ (hypopg_hide_index).
type HidingCoster interface {
	Coster
	CanHideIndexes() bool
}

// CanHideIndexes reports whether HypoPG can hide existing indexes here (1.4+).
func (w *WhatIf) CanHideIndexes() bool { return w.CanHide }

// RefusedDrop is a drop the planner showed would make a statement dearer.
type RefusedDrop struct {
	Drop   Drop   `json:"-"`
	Index  string `json:"index"`
	Reason string `json:"reason"`
}

// dearer is how much more a statement may cost with an index hidden before the drop is refused. A
// wider index that replaces a narrower one costs its lookups a few percent more (more pages to
// descend and read): that is the price of the replacement, not a slower plan.
const dearer = 1.05

// ProveDrops prices each drop with the planner: every statement on the index's table is planned
// with the chosen proposals and the planned indexes in place, once as things are and once with the
// index hidden (and with the drops already accepted on the same table hidden too, so a set of
// drops and the index that replaces them are priced as one move). A drop is kept only when no
// statement gets dearer; otherwise it is refused, naming the statement and both costs. A
// statement the planner cannot plan refuses the drop too: what cannot be priced is not dropped.
func ProveDrops(ctx context.Context, w *workload.Workload, cat *dbstate.Catalog, coster HidingCoster, config []*Candidate, drops []Drop) (kept []Drop, refused []RefusedDrop, err error) {
	if !coster.CanHideIndexes() {
		return nil, nil, ErrNoHide
	}
	stmts := buildStmts(w, cat)
	hidden := map[string][]string{} // table → drops accepted so far
	for _, d := range drops {
		table := d.Index.TableKey()
		key := d.Index.Key()
		var on []*stmt
		for _, s := range stmts {
			if slices.Contains(s.tables, table) {
				on = append(on, s)
			}
		}
		reason := ""
		worst := 0.0
		for _, s := range on {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			before, err := s.costHiding(ctx, coster, config, hidden[table])
			if err != nil {
				reason = fmt.Sprintf("the planner could not plan %q to price the drop: %v", short(s.ws.Query), err)
				break
			}
			after, err := s.costHiding(ctx, coster, config, append(slices.Clone(hidden[table]), key))
			if err != nil {
				reason = fmt.Sprintf("the planner could not plan %q with %s hidden: %v", short(s.ws.Query), d.Index.Name, err)
				break
			}
			if after > before*dearer+0.01 && after/before > worst {
				worst = after / before
				reason = fmt.Sprintf("with %s hidden the planner makes %q (%d calls) dearer: cost %.2f -> %.2f (%.1fx)",
					d.Index.Name, short(s.ws.Query), s.ws.Calls, before, after, after/before)
			}
		}
		if reason != "" {
			refused = append(refused, RefusedDrop{Drop: d, Index: key, Reason: reason})
			continue
		}
		hidden[table] = append(hidden[table], key)
		d.Reason += fmt.Sprintf(" Proven with the planner (HypoPG hypopg_hide_index): none of the %d statements on %s is dearer with it hidden.", len(on), table)
		d.Proven = true
		kept = append(kept, d)
	}
	return kept, refused, nil
}

func short(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if r := []rune(q); len(r) > 80 {
		return string(r[:77]) + "..."
	}
	return q
}
