package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"golang.org/x/term"

	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/internal/report"
)

// flagSet is a subcommand's flags plus the shared ones it opted into.
type flagSet struct {
	*flag.FlagSet
	cmd *command
	e   *env

	logFormat, logLevel string

	hasConn bool
	dsn     string
	// connections counts the sessions opened; untracked says whether every one of them runs
	// with pg_stat_statements.track = none.
	connections int
	untracked   bool

	hasOutput, hasHTML bool
	wide               bool
	format             string

	hasFailOn bool
	failOn    string
}

// newFlagSet starts a subcommand's flags with the logging flags every command has.
func newFlagSet(cmd *command, e *env) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet("pgtune "+cmd.name, flag.ContinueOnError), cmd: cmd, e: e}
	fs.SetOutput(io.Discard) // errors are reported once, on one line, by Run
	fs.StringVar(&fs.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&fs.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return fs
}

// withConnection adds --dsn.
func (fs *flagSet) withConnection() *flagSet {
	fs.hasConn = true
	fs.StringVar(&fs.dsn, "dsn", "", "connection string (URL or key=value); default DATABASE_URL, then the PG* variables (see 'pgtune help connection')")
	return fs
}

// withOutput adds --format (table, markdown or json) and --wide.
func (fs *flagSet) withOutput() *flagSet {
	return fs.addFormat("output format: table, markdown or json")
}

// withReport adds --format with html too: one self-contained page with charts, for the commands
// whose result a DBA attaches to a ticket (advise, maintain plan, backup verify).
func (fs *flagSet) withReport() *flagSet {
	fs.hasHTML = true
	return fs.addFormat("output format: table, markdown, json or html (one self-contained page with charts: > report.html)")
}

func (fs *flagSet) addFormat(usage string) *flagSet {
	fs.hasOutput = true
	fs.StringVar(&fs.format, "format", "table", usage)
	fs.BoolVar(&fs.wide, "wide", false, "table format: every line whole, however wide (default: fit the terminal, or $COLUMNS)")
	return fs
}

// withFailOn adds --fail-on.
func (fs *flagSet) withFailOn() *flagSet {
	fs.hasFailOn = true
	fs.StringVar(&fs.failOn, "fail-on", "none", "exit with 1 when a finding is at or above this severity: none, info, low, medium, high, critical")
	return fs
}

// parse parses args. For -h it prints the command's help to stdout and returns errHelpShown.
// Positional arguments are refused unless the command takes them (allowArgs).
func (fs *flagSet) parse(args []string, allowArgs bool) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.printHelp(fs.e.stdout)
		return errHelpShown
	}
	if err != nil {
		return usageErrorf("%s: %w (see 'pgtune help %s')", fs.cmd.name, err, fs.cmd.name)
	}
	if !allowArgs && fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q (flags go before arguments; see 'pgtune help %s')", fs.cmd.name, fs.Arg(0), fs.cmd.name)
	}
	// Go's flag parsing stops at the first argument: a flag after it would be taken for a file.
	for _, a := range fs.Args() {
		if len(a) > 1 && a[0] == '-' && fs.Lookup(strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")) != nil {
			return usageErrorf("%s: %s comes after the arguments: flags go before them (pgtune %s %s ... %s)", fs.cmd.name, a, fs.cmd.name, a, fs.Arg(0))
		}
	}
	// No duration flag means anything negative: refuse it rather than fall back to a default.
	var negative error
	fs.Visit(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok && negative == nil {
			if d, ok := g.Get().(time.Duration); ok && d < 0 {
				negative = usageErrorf("%s: --%s %s: a duration cannot be negative (0 where the flag allows it means off or the default; see 'pgtune help %s')", fs.cmd.name, f.Name, f.Value, fs.cmd.name)
			}
		}
	})
	if negative != nil {
		return negative
	}
	// Validate the shared values now, so a typo is a usage error before any work starts.
	if _, err := fs.logger(); err != nil {
		return err
	}
	if fs.hasOutput {
		f, err := report.ParseFormat(fs.format)
		if err != nil && fs.hasHTML {
			return usageErrorf("%s: %w", fs.cmd.name, err)
		}
		if err != nil || (f == report.FormatHTML && !fs.hasHTML) {
			return usageErrorf("%s: unknown --format %q (want table, markdown or json; html is for advise, maintain plan, backup verify and config)", fs.cmd.name, fs.format)
		}
	}
	if fs.hasFailOn {
		if _, err := finding.ParseFailOn(fs.failOn); err != nil {
			return usageErrorf("%s: %w", fs.cmd.name, err)
		}
	}
	return nil
}

func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprint(w, strings.TrimLeft(fs.cmd.help, "\n"))
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// logger builds the command's logger: stderr, the chosen format and level, passwords redacted.
func (fs *flagSet) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(fs.logLevel)); err != nil {
		return nil, usageErrorf("%s: unknown --log-level %q (want debug, info, warn or error)", fs.cmd.name, fs.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(fs.logFormat) {
	case "text":
		h = slog.NewTextHandler(fs.e.stderr, opts)
	case "json":
		h = slog.NewJSONHandler(fs.e.stderr, opts)
		fs.e.logJSON = true
	default:
		return nil, usageErrorf("%s: unknown --log-format %q (want text or json)", fs.cmd.name, fs.logFormat)
	}
	return slog.New(&redactingHandler{next: h, r: fs.e.redactor}), nil
}

// connConfig resolves and parses the connection settings (see connect.Resolve). A string that
// does not parse is a usage error.
func (fs *flagSet) connConfig(log *slog.Logger) (*pgx.ConnConfig, error) {
	dsn, src := connect.Resolve(fs.dsn, fs.e.getenv)
	fs.e.redactor.Add(dsn, fs.e.getenv("PGPASSWORD"))
	cfg, err := connect.ParseConfig(dsn, src)
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	fs.e.redactor.Add(cfg.Password)
	log.Debug("connection settings", "source", string(src), "target", connect.Describe(cfg))
	return cfg, nil
}

// connect resolves the connection settings and opens the command's connection; the caller closes it.
func (fs *flagSet) connect(ctx context.Context, log *slog.Logger) (*pgx.Conn, *pgx.ConnConfig, error) {
	cfg, err := fs.connConfig(log)
	if err != nil {
		return nil, nil, err
	}
	conn, err := connect.Connect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	// Every session of pgtune's asks pg_stat_statements to leave it out (see connect.Untrack).
	ok := connect.Untrack(ctx, conn)
	if fs.connections == 0 || !ok {
		fs.untracked = ok
	}
	fs.connections++
	return conn, cfg, nil
}

// output returns the parsed --format (validated in parse).
func (fs *flagSet) output() report.Format {
	f, _ := report.ParseFormat(fs.format)
	return f
}

// failOnThreshold returns the parsed --fail-on (validated in parse).
func (fs *flagSet) failOnThreshold() finding.FailOn {
	f, _ := finding.ParseFailOn(fs.failOn)
	return f
}

// write renders a result in the chosen format on stdout.
func (fs *flagSet) write(data any, tables ...report.Table) error {
	width := 0
	if !fs.wide {
		width = terminalWidth(fs.e)
	}
	err := report.Write(fs.e.stdout, fs.output(), report.Output{Command: fs.cmd.name, Version: Version(), Data: data, Tables: tables, Width: width})
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// commandLine is a command as the header of a file pgtune writes shows it: every argument
// shell-quoted (on one line, whatever it holds) and every password out, whether in a URL, a
// key=value DSN or the value of a flag that names one.
func commandLine(name string, args []string) string {
	out := []string{"pgtune", name}
	for i, a := range args {
		if i > 0 && strings.Contains(strings.ToLower(args[i-1]), "password") && strings.HasPrefix(args[i-1], "-") && !strings.Contains(args[i-1], "=") {
			a = connect.Redacted
		}
		if k, _, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "-") && strings.Contains(strings.ToLower(k), "password") {
			a = k + "=" + connect.Redacted
		}
		out = append(out, quote.Shell(connect.RedactString(a)))
	}
	return strings.Join(out, " ")
}

// isSet reports whether the flag was given on the command line.
func (fs *flagSet) isSet(name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// terminalWidth is the width tables fit: the terminal's when stdout is one, else $COLUMNS when
// it is set (a pager, a CI log of known width), else 0: piped to a file or a program, every line
// is whole.
func terminalWidth(e *env) int {
	if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(e.getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return 0
}
