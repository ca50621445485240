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
	// Sessions is how many sessions Warm may plan on at once.
	Sessions() int
	// Release ends what Warm keeps between calls (helper sessions).
	Release()
}

// Parallel lets Warm plan on more sessions: dial opens one more connection to the same
// database, sessions is how many sessions plan at once in all (this one included; 1: no
// helpers). Each helper is a WhatIf of its own (hypothetical indexes live in one backend), opened
// by the first Warm that has enough to share and closed by Release. The planner's work is CPU on the server: a DBA chooses how many
// of its cores pgtune may use at once.
func (w *WhatIf) Parallel(sessions int, dial func(context.Context) (*pgx.Conn, error), log *slog.Logger) {
	w.sessions, w.dial, w.log = sessions, dial, log
}

// warmMin is the fewest uncached calls worth opening helper sessions for; once they are open,
// two calls are worth sharing.
const warmMin = 16

// Sessions is how many sessions Warm may plan on at once (see Parallel).
func (w *WhatIf) Sessions() int {
	if w.dial == nil || w.helpersFailed && len(w.helpers) == 0 {
		return 1
	}
	return max(1, w.sessions)
}

// Warm plans the jobs not cached yet, spread over w and its helper sessions by configuration
// (each session builds a configuration's hypothetical indexes once per share of its jobs), and
// merges every plan into w's cache.
func (w *WhatIf) Warm(ctx context.Context, jobs []CostJob) {
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
	parallel := w.sessions >= 2 && w.dial != nil && (len(seen) >= warmMin || len(w.helpers) > 0 && len(seen) >= 2)
	var queue chan []CostJob
	var wg sync.WaitGroup
	work := func(wk *WhatIf) {
		for share := range queue {
			for _, j := range share {
				if ctx.Err() != nil {
					return
				}
				wk.Cost(ctx, j.Config, j.Hide, j.Fingerprint, j.Text, j.Params, j.Tables) //nolint:errcheck // best-effort (see Warmer)
			}
		}
	}
	// The helpers connect while this session reads the parameter types and starts on the
	// calls: a connection and a session's setup are a few round trips of waiting each, and each
	// helper joins as soon as it is ready.
	described := make(chan struct{})
	var types map[string][]string
	var stepwise map[string]bool
	if parallel {
		shares := warmShares(groups, order, len(seen), w.sessions)
		queue = make(chan []CostJob, len(shares))
		for _, share := range shares {
			queue <- share
		}
		close(queue)
		wg.Go(func() {
			join := func(h *WhatIf) {
				<-described
				// Types are the database's, the same in every session.
				maps.Copy(h.types, types)
				maps.Copy(h.stepwise, stepwise)
				wg.Go(func() { work(h) })
			}
			for _, h := range w.helpers {
				join(h)
			}
			w.openHelpers(ctx, join)
		})
	}
	// Every text's parameter types first, in one go: explain needs them, and so would each
	// helper, one round trip per text.
	texts := make([]string, 0, len(jobs))
	for _, j := range jobs {
		texts = append(texts, j.Text)
	}
	if err := w.Describe(ctx, texts); err != nil {
		w.logf("the statements' parameter types could not be read in one go; reading them one by one", "error", err)
	}
	// The helpers get a copy: this session's own maps change while they plan.
	types, stepwise = maps.Clone(w.types), maps.Clone(w.stepwise)
	close(described)
	if !parallel {
		return
	}
	work(w)
	wg.Wait()
	// What the helpers learnt: plans, sizes and parameter types.
	for _, h := range w.helpers {
		// Each call reached a helper uncached here: its cache holds only what it is to give.
		maps.Copy(w.cache, h.cache)
		clear(h.cache)
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

// warmShareMin is the fewest calls a share of one configuration's calls holds: each share costs
// the session that takes it one build of the configuration's hypothetical indexes.
const warmShareMin = 4

// warmShares cuts the groups (one per configuration, in order) into the shares the sessions take
// in turn. A group is cut when it is bigger than a quarter of a session's part of the calls: the
// baseline is one configuration (no index) holding every statement, and whole, it kept one
// session busy while the others waited.
func warmShares(groups map[string][]CostJob, order []string, calls, sessions int) [][]CostJob {
	size := max(warmShareMin, (calls+4*sessions-1)/(4*sessions))
	var shares [][]CostJob
	for _, ck := range order {
		for g := groups[ck]; len(g) > 0; {
			n := min(size, len(g))
			shares = append(shares, g[:n])
			g = g[n:]
		}
	}
	return shares
}

// openHelpers opens the helper sessions Parallel allows, once, and hands each to join as it is
// ready: they stay open (their catalog caches warm: a fresh backend's first plan of each table
// costs it a few milliseconds) until Release.
func (w *WhatIf) openHelpers(ctx context.Context, join func(*WhatIf)) {
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
		join(h)
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
