package cli

import (
	"fmt"
	"io"
	"os"
	"time"
)

var demoCmd = &command{
	name:    "demo",
	summary: "the bundled booking demo: its query mix, its data, its workload",
	help: `Usage: pgtune demo <workload|load|run> [flags]

pgtune ships a stand-in for a real barbershop booking app (shops, barbers, clients,
appointments, payments, notifications, reviews): an untuned schema, a deterministic data
generator and the app's query mix. Use it to try pgtune, or to reproduce its benchmarks.

  pgtune demo workload          list the app's statements and how often each runs (no database)
  pgtune demo load --scale 1    create the schema and load generated data (scale 1 = ~100k appointments)
  pgtune demo run --actions N   run the app's mix so pg_stat_statements fills with its statements

'load' and 'run' write to the database they are given: point them at a scratch database.
Run 'pgtune help demo <subcommand>' for each one's flags.
`,
	run:         runSubcommand,
	subcommands: []*command{demoWorkloadCmd, demoLoadCmd, demoRunCmd},
}

// progress reports long work on stderr, only when stderr is a terminal: pipelines and CI logs get
// the result alone.
type progress struct {
	w       io.Writer
	enabled bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	enabled := false
	if ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			enabled = true
		}
	}
	return &progress{w: w, enabled: enabled}
}

func (p *progress) update(format string, args ...any) {
	if p.enabled {
		fmt.Fprintf(p.w, "\r\033[K"+format, args...)
	}
}

func (p *progress) done() {
	if p.enabled {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// progressReader reports how much of a file was read, at most every quarter second.
type progressReader struct {
	r      io.Reader
	n      int64
	last   time.Time
	report func(read int64)
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.n += int64(n)
	if now := time.Now(); now.Sub(pr.last) >= 250*time.Millisecond {
		pr.last = now
		pr.report(pr.n)
	}
	return n, err
}
