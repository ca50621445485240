// Package cli is the pgtune command line: Run parses the arguments, dispatches to one subcommand
// (one file each; groups such as maintain dispatch through runSubcommand), renders its result and
// returns the process exit code. Conventions shared by every subcommand are implemented once:
// connection and output format in flags.go, logging and redaction in logging.go, exit codes and
// the final error line here (exitError, exitCode).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/bookedbarber/pgtune/internal/connect"
)

// Exit codes.
const (
	ExitOK       = 0 // ran; no finding at or above --fail-on
	ExitFindings = 1 // ran; findings at or above --fail-on
	ExitUsage    = 2 // bad flags or arguments
	ExitFailed   = 3 // could not run: connection, permissions, missing extension, bad data
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// help is the long help: usage line, description, examples. Flags are appended.
	help string
	run  func(ctx context.Context, cmd *command, e *env, args []string) error
	// subcommands, when set, make the command a group ("maintain plan"): run is then
	// runSubcommand, and each subcommand's name is the group's name, a space and its own.
	subcommands []*command
	// parent is the group a subcommand belongs to (set at start-up).
	parent *command
}

func init() {
	for _, c := range commands {
		for _, sub := range c.subcommands {
			sub.parent = c
		}
	}
}

// runSubcommand dispatches a group's first argument to its subcommand, the one place the
// missing, unknown and help cases are handled for every group.
func runSubcommand(ctx context.Context, cmd *command, e *env, args []string) error {
	names := make([]string, len(cmd.subcommands))
	for i, sub := range cmd.subcommands {
		names[i] = strings.TrimPrefix(sub.name, cmd.name+" ")
	}
	want := names[len(names)-1]
	if len(names) > 1 {
		want = strings.Join(names[:len(names)-1], ", ") + " or " + want
	}
	if len(args) == 0 {
		return usageErrorf("%s: missing subcommand (%s); see 'pgtune help %s'", cmd.name, want, cmd.name)
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(e.stdout, strings.TrimLeft(cmd.help, "\n"))
		return errHelpShown
	}
	for i, sub := range cmd.subcommands {
		if names[i] == args[0] {
			return sub.run(ctx, sub, e, args[1:])
		}
	}
	return usageErrorf("%s: unknown subcommand %q (want %s)", cmd.name, args[0], want)
}

// commands lists the subcommands `pgtune help` shows; only commands that work are listed.
var commands = []*command{adviseCmd, snapshotCmd, indexesCmd, migrateCmd, configCmd, pgbouncerCmd, maintainCmd, backupCmd, checkCmd, demoCmd, versionCmd}

// env is what a subcommand may touch of the outside world.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	redactor       *connect.Redactor
	// logJSON: the command logs JSON (--log-format json), so its final error is a JSON record too.
	logJSON bool
}

// Run runs pgtune with args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, redactor: &connect.Redactor{}}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		e.printOverview(e.stderr)
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return e.help(rest)
	case "-version", "--version":
		name = "version"
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(e.stderr, "pgtune: unknown command %q; run 'pgtune help' for the list\n", name)
		return ExitUsage
	}
	err := cmd.run(ctx, cmd, e, rest)
	if ctx.Err() != nil && !errors.Is(err, errHelpShown) {
		// A signal (SIGINT, SIGTERM) ended the run: never exit 0 as if complete, whatever the
		// command made of its cancelled statements.
		what := cmd.name
		if len(rest) > 0 && interruptedLeft[cmd.name+" "+rest[0]] != "" {
			what = cmd.name + " " + rest[0]
		}
		left := interruptedLeft[what]
		if left == "" {
			left = "its output is incomplete"
		}
		switch {
		case err == nil, errors.Is(err, context.Canceled):
			// "context canceled" tells a DBA nothing: say what was done and what is left.
			err = fmt.Errorf("%s: interrupted by a signal (SIGINT or SIGTERM) before it finished: %s", what, left)
		case !strings.Contains(err.Error(), "interrupted"):
			err = fmt.Errorf("%s: interrupted by a signal: %w; %s", what, err, left)
		}
		code := ExitFailed // could not run (to its end)
		if xe, ok := errors.AsType[*exitError](err); ok && xe.code == ExitBusy {
			code = ExitBusy
		}
		err = &exitError{code: code, err: err}
	}
	return e.exitCode(err)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (e *env) printOverview(w io.Writer) {
	fmt.Fprint(w, `pgtune tunes PostgreSQL: it reads what a database runs and what it is made of, and says what to fix.

Usage:
  pgtune <command> [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Help topics:
  connection  how pgtune finds the database
  exit-codes  what pgtune's exit status means

Run 'pgtune help <command>' or 'pgtune help <topic>' for more.
`)
}

func (e *env) help(args []string) int {
	if len(args) == 0 {
		e.printOverview(e.stdout)
		return ExitOK
	}
	if t, ok := topics[args[0]]; ok {
		fmt.Fprint(e.stdout, t)
		return ExitOK
	}
	if c := lookup(args[0]); c != nil {
		// A command prints its own help (with its flags) for -h.
		return e.exitCode(c.run(context.Background(), c, e, append(args[1:], "-h")))
	}
	names := make([]string, 0, len(topics))
	for n := range topics {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(e.stderr, "pgtune: no help for %q; commands: %s; topics: %s\n", args[0], commandNames(), strings.Join(names, ", "))
	return ExitUsage
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

var topics = map[string]string{
	"connection": `How pgtune finds the database

pgtune uses the first of:
  1. the --dsn flag: a URL (postgres://user@host:5432/db?sslmode=require) or a libpq
     keyword/value string (host=db user=app dbname=booking);
  2. the DATABASE_URL environment variable;
  3. libpq's environment variables: PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE,
     PGSERVICE, PGPASSFILE and the rest, and ~/.pgpass.
Values missing from 1 or 2 are filled from 3. Put passwords in ~/.pgpass or PGPASSWORD rather
than on the command line: pgtune never prints or logs a password, but your shell history might.

pgtune's sessions set application_name=pgtune, and every statement it sends on its own behalf
starts with the comment /* pgtune */, so it can be told apart in pg_stat_activity and
pg_stat_statements (and is left out of its own advice).
`,
	"exit-codes": `pgtune's exit status

  0  ran; no finding at or above --fail-on (the default, none, never fails)
  1  ran; at least one finding at or above --fail-on (info, low, medium, high, critical)
  2  usage error: an unknown command, flag or value
  3  could not run: no connection, missing privilege or extension, unusable input; or
     interrupted by SIGINT/SIGTERM (said on stderr; no report, no migration written)
  4  maintain run: another run holds the database's maintenance lock (this one did nothing)
`,
}

// interruptedLeft says, per command, what a run stopped by a signal leaves behind and how to go
// on.
var interruptedLeft = map[string]string{
	"advise":           "nothing was written; run it again for the report",
	"snapshot":         "no snapshot file was written (nothing half-written is left); run it again",
	"check":            "nothing was checked to the end; run it again",
	"indexes generate": "no migration file was written; run it again",
	"migrate up":       "run 'pgtune migrate up' again: it resumes where this run stopped (an interrupted build is dropped and built again)",
	"migrate down":     "run 'pgtune migrate status' to see the version, then 'pgtune migrate down' again",
	"maintain run":     "the tables vacuumed so far stay done; run it again to go on (it plans from the tables' state)",
	"maintain plan":    "no plan was printed; run it again",
	"backup verify":    "the drill did not finish and proved nothing; its scratch restore is removed; run it again",
	"demo load":        "the load stopped part-way; run it again with --replace",
	"demo run":         "the mix stopped part-way; what ran is in pg_stat_statements",
	"config":           "nothing was written; run it again",
}

// exitError carries an exit code through the error chain.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a problem with how pgtune was called (exit 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// errFindings makes the command exit with 1 without printing anything more: the findings are the
// message.
var errFindings = &exitError{code: ExitFindings, err: errors.New("findings at or above --fail-on")}

// errHelpShown ends a command that printed its help.
var errHelpShown = errors.New("help shown")

// exitCode prints err (redacted, on one line) and maps it to an exit code. Errors that carry no
// code mean the command could not run (3).
func (e *env) exitCode(err error) int {
	if err == nil || errors.Is(err, errHelpShown) {
		return ExitOK
	}
	if errors.Is(err, errFindings) {
		return ExitFindings
	}
	code := ExitFailed
	var xe *exitError
	if errors.As(err, &xe) {
		code = xe.code
	}
	msg := strings.Join(strings.Fields(e.redactor.String(err.Error())), " ")
	if e.logJSON {
		// A log collector reading JSON lines gets the error as one more record.
		slog.New(slog.NewJSONHandler(e.stderr, nil)).Error(msg, "exit", code)
		return code
	}
	fmt.Fprintf(e.stderr, "pgtune: %s\n", msg)
	return code
}
