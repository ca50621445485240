// Package snapshot reads and writes pgtune's snapshot files (a versioned JSON document, gzipped
// when the name ends in .gz) and reads pg_stat_statements CSV exports. It does not parse SQL; it
// checks the shape and the version of what it reads, so a wrong or damaged file fails with one
// line naming the problem instead of producing advice from nonsense.
package snapshot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/atomicfile"
)

// ErrInvalid marks a file that is not a usable snapshot.
var ErrInvalid = errors.New("not a usable pgtune snapshot")

// newerError is a snapshot from a newer pgtune: the fix is an upgrade, not a new snapshot.
type newerError struct{ error }

func (e *newerError) Unwrap() error { return e.error }

// maxSize bounds what Read accepts (uncompressed), so a wrong file cannot exhaust memory.
const maxSize = 2 << 30

// Write writes snap as JSON (gzipped when gz).
func Write(w io.Writer, snap *dbstate.Snapshot, gz bool) error {
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(w)
		w = zw
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(snap); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

// WriteFile writes snap to path atomically: to a temporary file in the same directory, renamed
// over path only once complete, so an interrupted run never leaves half a snapshot. A name ending
// in .gz is gzipped.
func WriteFile(path string, snap *dbstate.Snapshot) error {
	// Mode 0600: statistics can hold data values.
	return atomicfile.Write(path, 0o600, func(w io.Writer) error {
		return Write(w, snap, strings.HasSuffix(path, ".gz"))
	})
}

// Read reads a snapshot, gzipped or not, and checks it.
func Read(r io.Reader) (*dbstate.Snapshot, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: bad gzip data: %w", ErrInvalid, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	dec := json.NewDecoder(io.LimitReader(br, maxSize))
	var snap dbstate.Snapshot
	if err := dec.Decode(&snap); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("%w: invalid JSON at byte %d: %w", ErrInvalid, se.Offset, err)
		case errors.As(err, &te):
			where := "the file"
			if te.Field != "" {
				where = "field " + te.Field
			}
			return nil, fmt.Errorf("%w: %s holds %s where %s is expected", ErrInvalid, where, withArticle(te.Value), jsonKind(te.Type))
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%w: the file ends early (cut short while copying?)", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := Check(&snap); err != nil {
		return nil, err
	}
	return &snap, nil
}

// withArticle puts "a" or "an" before a JSON kind as encoding/json names it (array, object, number,
// string, bool).
func withArticle(kind string) string {
	switch kind {
	case "array", "object":
		return "an " + kind
	case "bool":
		return "true or false"
	case "":
		return "a value"
	}
	return "a " + kind
}

// jsonKind names what a Go type reads from, in JSON's words: a message for a DBA, not a
// programmer.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another value"
}

// ReadFile reads a snapshot file.
func ReadFile(path string) (*dbstate.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	snap, err := Read(f)
	if _, ok := errors.AsType[*newerError](err); ok {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w; take a new one with 'pgtune snapshot --out FILE'", path, err)
	}
	return snap, nil
}

// Check verifies what the advisor relies on: the format and version, and that every index,
// constraint and statistics row names a table the snapshot has.
func Check(snap *dbstate.Snapshot) error {
	switch {
	case snap.Format != dbstate.SnapshotFormat:
		return fmt.Errorf("%w: format %q, want %q", ErrInvalid, snap.Format, dbstate.SnapshotFormat)
	case snap.Version > dbstate.SnapshotVersion:
		return &newerError{fmt.Errorf("%w: snapshot format version %d was written by a newer pgtune (%s); this one reads version %d: upgrade pgtune",
			ErrInvalid, snap.Version, snap.PgtuneVersion, dbstate.SnapshotVersion)}
	case snap.Version < 1:
		return fmt.Errorf("%w: snapshot format version %d is not one pgtune ever wrote", ErrInvalid, snap.Version)
	case snap.TakenAt.IsZero():
		return fmt.Errorf("%w: taken_at is missing", ErrInvalid)
	}
	tables := map[string]bool{}
	for i, t := range snap.Tables {
		if t.Name == "" || t.Schema == "" {
			return fmt.Errorf("%w: table %d has no schema or name", ErrInvalid, i)
		}
		tables[t.Key()] = true
	}
	for _, ix := range snap.Indexes {
		if !tables[ix.TableKey()] {
			return fmt.Errorf("%w: index %s is on table %s, which the snapshot does not have", ErrInvalid, ix.Name, ix.TableKey())
		}
		if len(ix.Keys) == 0 {
			return fmt.Errorf("%w: index %s has no keys", ErrInvalid, ix.Key())
		}
	}
	for _, c := range snap.Constraints {
		if !tables[dbstate.QualifiedName(c.Schema, c.Table)] {
			return fmt.Errorf("%w: constraint %s is on table %s.%s, which the snapshot does not have", ErrInvalid, c.Name, c.Schema, c.Table)
		}
	}
	for _, r := range snap.Statements.Rows {
		if r.Calls < 0 || r.TotalExecMs < 0 {
			return fmt.Errorf("%w: statement %d has negative counters", ErrInvalid, r.QueryID)
		}
	}
	return nil
}
