package migrations

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/query"
)

// Migration is one file pair of the directory.
type Migration struct {
	Version uint   `json:"version"`
	Name    string `json:"name"`
	Up      string `json:"-"`
	Down    string `json:"-"`
	// Generated marks pgtune's own migrations.
	Generated bool `json:"generated"`
	// UpFile and DownFile are the files' names in the directory ("" when missing).
	UpFile   string `json:"-"`
	DownFile string `json:"-"`
}

// Dir is a migration directory as both 'migrate up' and 'migrate lint' read it: one reader, so
// lint never passes a directory up refuses.
type Dir struct {
	Path       string
	Migrations []Migration
	// Files are the directory's migration files (up and down), sorted.
	Files []string
	// Problems are what makes golang-migrate (or pgtune) refuse the directory, or apply something
	// the author did not mean, one line each naming the file and the fix.
	Problems []string
}

// golangMigrateFile is golang-migrate's own file-name pattern (source/parse.go): any extension
// counts, so 000003_x.up.txt is a migration to it.
var golangMigrateFile = regexp.MustCompile(`^([0-9]+)_(.*)\.(down|up)\.(.*)$`)

// ReadDir reads a migration directory. A missing or unreadable directory is an error; everything
// wrong with its files is a Problem.
func ReadDir(dir string) (*Dir, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := &Dir{Path: dir}
	byVersion := map[uint]*Migration{}
	problem := func(format string, a ...any) { d.Problems = append(d.Problems, fmt.Sprintf(format, a...)) }
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		m := golangMigrateFile.FindStringSubmatch(name)
		if m == nil {
			if strings.HasSuffix(name, ".sql") {
				problem("%s is not a migration file (golang-migrate skips it silently): name it NNNNNN_name.up.sql / .down.sql, or move it out of %s", name, dir)
			}
			continue
		}
		if m[4] != "sql" {
			problem("%s: golang-migrate applies it as migration %s (any extension counts): rename it to .%s.sql, or move it out of %s", name, m[1], m[3], dir)
			continue
		}
		v, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil || v > math.MaxInt64 { // timestamps (20260101120000) are fine
			problem("%s: version %s is not a number golang-migrate can store: renumber it", name, m[1])
			continue
		}
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		d.Files = append(d.Files, name)
		mig := byVersion[uint(v)]
		if mig == nil {
			mig = &Migration{Version: uint(v), Name: m[2]}
			byVersion[uint(v)] = mig
		}
		if m[3] == "up" {
			if mig.UpFile != "" {
				problem("version %d is used twice (%s and %s): renumber one", v, mig.UpFile, name)
				continue
			}
			mig.UpFile, mig.Up = name, string(body)
			mig.Generated = strings.HasPrefix(mig.Up, GeneratedMark)
		} else {
			if mig.DownFile != "" {
				problem("version %d is used twice (%s and %s): renumber one", v, mig.DownFile, name)
				continue
			}
			mig.DownFile, mig.Down = name, string(body)
		}
		if mig.Name != m[2] {
			problem("version %d is used twice (%s and %s): renumber one", v, firstOf(mig.UpFile, mig.DownFile), name)
		}
	}
	for _, m := range byVersion {
		if m.UpFile == "" {
			problem("%s has no up file: add %06d_%s.up.sql, or remove it", m.DownFile, m.Version, m.Name)
			continue
		}
		d.Migrations = append(d.Migrations, *m)
	}
	slices.SortFunc(d.Migrations, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	slices.Sort(d.Files)
	slices.Sort(d.Problems)
	return d, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// DirError is a directory with problems.
type DirError struct {
	Dir      string
	Problems []string
}

func (e *DirError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return fmt.Sprintf("%s (and %d more problems in %s; 'pgtune migrate lint %s' lists them)", e.Problems[0], len(e.Problems)-1, e.Dir, e.Dir)
}

// Read lists the directory's migrations in order, refusing a directory with problems.
func Read(dir string) ([]Migration, error) {
	d, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	if len(d.Problems) > 0 {
		return nil, &DirError{Dir: dir, Problems: d.Problems}
	}
	return d.Migrations, nil
}

// IsDirError tells whether err is a directory's problems (a usage error, not a database one).
func IsDirError(err error) bool {
	var de *DirError
	return errors.As(err, &de)
}

// Planned is what a directory's up migrations already do, for a generator that adds to it: the
// highest version (new files are numbered after it), the names of the indexes they create or
// drop and "extension NAME" for the extensions they create (generating twice adds nothing), and
// the indexes they create (the engine treats them as in place). A nil Dir (no directory yet)
// plans nothing.
func (d *Dir) Planned() (last int, names map[string]bool, creates []dbstate.Index, err error) {
	names = map[string]bool{}
	if d == nil {
		return 0, names, nil, nil
	}
	for _, m := range d.Migrations {
		last = max(last, int(m.Version))
		if m.Up == "" {
			continue
		}
		stmts, err := query.ParseMigration(m.Up)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%s: %w", m.UpFile, err)
		}
		for _, st := range stmts {
			switch st.Kind {
			case "create_index":
				if st.Index != nil {
					if !st.Unnamed {
						names[st.Index.Name] = true
					}
					creates = append(creates, *st.Index)
				}
			case "drop_index":
				for _, q := range st.Drops {
					names[q[strings.LastIndexByte(q, '.')+1:]] = true
				}
			case "create_extension":
				names["extension "+st.Extension] = true
			}
		}
	}
	return last, names, creates, nil
}
