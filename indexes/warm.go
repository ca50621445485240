package indexes

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// CostJob is one Cost call the selection will make: a statement's text under a configuration.
type CostJob struct {
	Config      []*Candidate
	Hide        []string
	Fingerprint string
	Text        string
	Params      [][]string
	Tables      []string
}

// Warmer is a Coster that can plan many calls ahead of the selection, in parallel, so that the
// selection's own calls find their plans cached. Warm is best-effort: a call it could not plan
// is planned again (and fails with its own error) when the selection makes it.
type Warmer interface {
	Warm(ctx context.Context, jobs []CostJob)
	// Release ends what Warm keeps between calls (helper sessions).
	Release()
}

// Parallel lets Warm plan on more sessions: dial opens one more connection to the same
// database, sessions is how many sessions plan at once in all (this one included; 1: no
// helpers). Each helper is a WhatIf of its own (hypothetical indexes live in one backend), and
// is closed when Warm returns. The planner's work is CPU on the server: a DBA chooses how many
// of its cores pgtune may use at once.
func (w *WhatIf) Parallel(sessions int, dial func(context.Context) (*pgx.Conn, error), log *slog.Logger) {
	w.sessions, w.dial, w.log = sessions, dial, log
}

// warmMin is the fewest uncached calls worth opening helper sessions for.
const warmMin = 16

// Warm plans the jobs not cached yet, spread over w and its helper sessions by configuration
// (each session builds a configuration's hypothetical indexes once), and merges every plan into
// w's cache.
func (w *WhatIf) Warm(ctx context.Context, jobs []CostJob) {
	// Every text's parameter types first, in one go: explain needs them, and so would each
	// helper, one round trip per text.
	texts := make([]string, 0, len(jobs))
	for _, j := range jobs {
		texts = append(texts, j.Text)
	}
	if err := w.Describe(ctx, texts); err != nil {
		w.logf("the statements' parameter types could not be read in one go; reading them one by one", "error", err)
	}
	if w.sessions < 2 || w.dial == nil {
		return
	}
	// Group the uncached calls by configuration, in the order given.
	seen := map[string]bool{}
	groups := map[string][]CostJob{}
	var order []string
	for _, j := range jobs {
		key := w.cacheKey(j.Config, j.Hide, j.Fingerprint, j.Tables)
		if _, ok := w.cache[key]; ok || seen[key] {
			continue
		}
		seen[key] = true
		ck := groupKey(j.Config, j.Hide)
		if groups[ck] == nil {
			order = append(order, ck)
		}
		groups[ck] = append(groups[ck], j)
	}
	if len(seen) < warmMin {
		return
	}
	w.openHelpers(ctx)
	for _, h := range w.helpers {
		// Types are the database's, the same in every session.
		maps.Copy(h.types, w.types)
		maps.Copy(h.stepwise, w.stepwise)
	}
	workers := append([]*WhatIf{w}, w.helpers...)
	if len(workers) < 2 {
		return
	}
	queue := make(chan []CostJob, len(order))
	for _, ck := range order {
		queue <- groups[ck]
	}
	close(queue)
	var wg sync.WaitGroup
	for _, wk := range workers {
		wg.Go(func() {
			for group := range queue {
				for _, j := range group {
					if ctx.Err() != nil {
						return
					}
					wk.Cost(ctx, j.Config, j.Hide, j.Fingerprint, j.Text, j.Params, j.Tables) //nolint:errcheck // best-effort (see Warmer)
				}
			}
		})
	}
	wg.Wait()
	// What the helpers learnt: plans, sizes and parameter types.
	for _, h := range w.helpers {
		for k, p := range h.cache {
			w.cache[k] = p
		}
		for sig, s := range h.sizes {
			if _, ok := w.sizes[sig]; !ok {
				w.sizes[sig] = s
			}
		}
		for text, types := range h.types {
			if _, ok := w.types[text]; !ok {
				w.types[text] = types
			}
		}
		for text := range h.stepwise {
			w.stepwise[text] = true
		}
		w.Explains += h.Explains
		h.Explains = 0
	}
}

// openHelpers opens the helper sessions Parallel allows, once: they stay open (their catalog
// caches warm: a fresh backend's first plan of each table costs it a few milliseconds) until
// Release.
func (w *WhatIf) openHelpers(ctx context.Context) {
	for len(w.helpers) < w.sessions-1 && !w.helpersFailed {
		conn, err := w.dial(ctx)
		if err != nil {
			w.logf("a planner session more could not connect; planning on fewer", "error", err)
			w.helpersFailed = true
			return
		}
		h, err := NewWhatIf(ctx, conn, w.version)
		if err != nil {
			conn.Close(context.Background())
			w.logf("a planner session more could not start; planning on fewer", "error", err)
			w.helpersFailed = true
			return
		}
		w.helpers = append(w.helpers, h)
	}
}

// Release closes the helper sessions Warm opened (a later Warm opens them again).
func (w *WhatIf) Release() {
	for _, h := range w.helpers {
		h.Close(context.Background()) //nolint:errcheck // the session ends here
		h.conn.Close(context.Background())
	}
	w.helpers, w.helpersFailed = nil, false
}

// groupKey names a whole configuration: what a session builds to plan under it.
func groupKey(config []*Candidate, hide []string) string {
	var parts []string
	for _, c := range plannable(config) {
		parts = append(parts, c.Signature())
	}
	for _, name := range hide {
		parts = append(parts, "-"+name)
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

func (w *WhatIf) logf(msg string, args ...any) {
	if w.log != nil {
		w.log.Warn(msg, args...)
	}
}
