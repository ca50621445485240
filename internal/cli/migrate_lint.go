package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/migrations"
	"github.com/bookedbarber/pgtune/query"
)

const migrateLintHelp = `Usage: pgtune migrate lint [--dsn DSN | --schema FILE] FILE|DIR...

Checks index migrations before they reach a live database (for pull requests):

  error    CONCURRENTLY (or VACUUM) sharing a file with other statements (golang-migrate runs a
           file as one transaction, where they fail)
  error    CREATE / DROP INDEX or REINDEX without CONCURRENTLY on an existing table (it blocks
           writes, or everything, for the whole build)
  error    an index name over 63 bytes (PostgreSQL cuts it; names can then collide)
  error    a function that is not immutable (now(), CURRENT_DATE, random(), ...) in an index
           expression or predicate
  error    with --dsn or --schema: a table or column that does not exist, an index that
           duplicates an existing one (or one created by another file linted)
  warning  CREATE INDEX without IF NOT EXISTS, DROP INDEX without IF EXISTS
  error    a file that does not parse
  error    a directory 'pgtune migrate up' refuses: a version used twice, a .sql file not
           named like a migration, a file golang-migrate would apply whatever its extension
  error    CREATE / DROP INDEX CONCURRENTLY on a partitioned table (PostgreSQL refuses it:
           build ON ONLY the parent, each partition CONCURRENTLY, then ATTACH PARTITION)

It exits with 1 when any error is found (--fail-on high; --fail-on low includes warnings). With
--dsn it only reads the catalog; it needs no extension. Without --dsn or --schema, every table
a linted file does not create is taken to exist.

Examples:
  pgtune migrate lint migrations/booking
  pgtune migrate lint --schema schema.sql --format markdown migrations/000012_*.sql
`

type lintResult struct {
	Files    []string          `json:"files"`
	Findings []finding.Finding `json:"findings"`
}

func runMigrateLint(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withOutput().withFailOn()
	fs.Lookup("fail-on").DefValue = "high"
	fs.failOn = "high"
	schema := fs.String("schema", "", "check against this pg_dump --schema-only file")
	if err := fs.parse(args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf("migrate lint: name the migration files or directories to check")
	}
	if *schema != "" && fs.dsn != "" {
		return usageErrorf("migrate lint: choose one of --dsn and --schema")
	}
	var paths []string
	var findings []finding.Finding
	for _, a := range fs.Args() {
		st, err := os.Stat(a)
		if err != nil {
			return usageErrorf("migrate lint: %w", err)
		}
		if !st.IsDir() {
			paths = append(paths, a)
			continue
		}
		// The directory as 'migrate up' reads it: what up would refuse, lint reports.
		d, err := migrations.ReadDir(a)
		if err != nil {
			return fmt.Errorf("migrate lint: %w", err)
		}
		for _, f := range d.Files {
			paths = append(paths, filepath.Join(a, f))
		}
		for _, p := range d.Problems {
			findings = append(findings, finding.Finding{Rule: "lint.directory", Kind: finding.KindIndex, Severity: finding.SeverityHigh,
				Title: a + ": " + p, Evidence: finding.Facts("dir", a),
				Action: "fix the directory: 'pgtune migrate up' refuses it as it is"})
		}
	}
	slices.Sort(paths)
	var files []migrations.File
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("migrate lint: %w", err)
		}
		stmts, err := query.ParseMigration(string(body))
		if err != nil {
			var se *query.SchemaError
			line := 0
			if errors.As(err, &se) {
				line = se.Line
			}
			findings = append(findings, finding.Finding{Rule: "lint.syntax", Kind: finding.KindIndex, Severity: finding.SeverityHigh,
				Title: fmt.Sprintf("%s:%d: does not parse: %v", p, line, err), Evidence: finding.Facts("file", p, "line", line),
				Action: "fix the SQL; the migration would fail"})
			continue
		}
		files = append(files, migrations.File{Path: p, Statements: stmts, Up: !strings.HasSuffix(p, ".down.sql")})
	}

	var cat *dbstate.Catalog
	switch {
	case *schema != "":
		body, err := os.ReadFile(*schema)
		if err != nil {
			return fileError("--schema", err)
		}
		s, err := query.ParseSchema(string(body))
		if err != nil {
			return fmt.Errorf("--schema %s: does not parse at %w", *schema, err)
		}
		cat = dbstate.NewCatalog(&dbstate.Snapshot{Tables: s.Tables, Indexes: s.Indexes, Constraints: s.Constraints})
	case fs.dsn != "":
		log, _ := fs.logger()
		conn, cfg, err := fs.connect(ctx, log)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		snap, err := collect.Collect(ctx, conn, collect.Options{CatalogOnly: true, NoValues: true, PgtuneVersion: Version(), Log: log})
		if err != nil {
			return fmt.Errorf("migrate lint %s: %w", connect.Describe(cfg), err)
		}
		cat = dbstate.NewCatalog(snap)
	}
	findings = append(findings, migrations.Lint(files, cat)...)
	if findings == nil {
		findings = []finding.Finding{}
	}
	errs, warns := 0, 0
	var rows [][]string
	for _, f := range findings {
		level := "warning"
		if f.Severity >= finding.SeverityHigh {
			level = "error"
			errs++
		} else {
			warns++
		}
		rows = append(rows, []string{level, f.Rule, f.Title, f.Fix()})
	}
	note := fmt.Sprintf("%d files: %d errors, %d warnings.", len(paths), errs, warns)
	if err := fs.write(lintResult{Files: paths, Findings: findings}, report.Table{Title: "pgtune migrate lint",
		Columns: []string{"level", "rule", "finding", "fix"}, Rows: rows, Note: note}); err != nil {
		return err
	}
	if fs.failOnThreshold().Trips(findings) {
		return errFindings
	}
	return nil
}
