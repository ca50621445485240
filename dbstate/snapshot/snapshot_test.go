package snapshot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pgtune "github.com/bookedbarber/pgtune"
	"github.com/bookedbarber/pgtune/dbstate"
)

func sample() *dbstate.Snapshot {
	return &dbstate.Snapshot{
		Format: dbstate.SnapshotFormat, Version: dbstate.SnapshotVersion, Source: "live",
		TakenAt: time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC), PgtuneVersion: "test",
		Tables:     []dbstate.Table{{Schema: "public", Name: "t", Kind: "table", Columns: []dbstate.Column{{Name: "id", Type: "bigint"}}}},
		Indexes:    []dbstate.Index{{Schema: "public", Table: "t", Name: "t_pkey", Method: "btree", Keys: []dbstate.IndexKey{{Column: "id"}}, Valid: true}},
		Statements: dbstate.Statements{Dealloc: -1, Rows: []dbstate.StatementRow{{QueryID: 7, Query: "SELECT 1 FROM t WHERE id = $1", Calls: 3, TotalExecMs: 1.5}}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, gz := range []bool{false, true} {
		var b bytes.Buffer
		if err := Write(&b, sample(), gz); err != nil {
			t.Fatal(err)
		}
		got, err := Read(&b)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if got.Tables[0].Name != "t" || got.Statements.Rows[0].QueryID != 7 || !got.TakenAt.Equal(sample().TakenAt) {
			t.Errorf("gz=%v: %+v", gz, got)
		}
	}
}

func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json.gz")
	if err := WriteFile(path, sample()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Error(err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "s.json"), sample()); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed write left files: %v", entries)
	}
}

func TestCheckRefusesInconsistentSnapshots(t *testing.T) {
	cases := map[string]func(*dbstate.Snapshot){
		"format":          func(s *dbstate.Snapshot) { s.Format = "x" },
		"newer pgtune":    func(s *dbstate.Snapshot) { s.Version = 2 },
		"taken_at":        func(s *dbstate.Snapshot) { s.TakenAt = time.Time{} },
		"does not have":   func(s *dbstate.Snapshot) { s.Indexes[0].Table = "u" },
		"has no keys":     func(s *dbstate.Snapshot) { s.Indexes[0].Keys = nil },
		"negative":        func(s *dbstate.Snapshot) { s.Statements.Rows[0].Calls = -1 },
		"no schema or na": func(s *dbstate.Snapshot) { s.Tables[0].Schema = "" },
	}
	for want, mutate := range cases {
		s := sample()
		mutate(s)
		err := Check(s)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// FuzzRead: snapshot files come from other machines; a damaged one is refused, never a panic.
func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	Write(&b, sample(), false)
	f.Add(b.Bytes())
	f.Add(pgtune.DemoSnapshot)
	f.Add([]byte(`{"format":"pgtune-snapshot","version":1,"taken_at":"2026-01-01T00:00:00Z","indexes":[{"keys":[]}]}`))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := Read(bytes.NewReader(data))
		if err == nil && (snap.Format != dbstate.SnapshotFormat || Check(snap) != nil) {
			t.Fatal("an invalid snapshot was accepted")
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error without ErrInvalid: %v", err)
		}
	})
}

// A file that is not a snapshot gets one sentence in a DBA's words (JSON's kinds, not Go's
// types) and the fix once: a new snapshot, or an upgrade for one from a newer pgtune.
func TestReadFileMessages(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ content, want string }{
		{`[1, 2]`, "the file holds an array where an object is expected; take a new one with 'pgtune snapshot --out FILE'"},
		{`{"format": "pgtune-snapshot", "version": 1, "tables": {"x": 1}}`, "field tables holds an object where a list is expected; take a new one"},
		{`{"a": 1}`, `format "", want "pgtune-snapshot"; take a new one with 'pgtune snapshot --out FILE'`},
		{`{"format": "pgtune-snapshot", "version": 99, "pgtune_version": "9.9"}`, "written by a newer pgtune (9.9); this one reads version 1: upgrade pgtune"},
	} {
		path := filepath.Join(dir, "s.json")
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFile(path)
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: %v", c.content, err)
		}
		msg := err.Error()
		if !strings.HasSuffix(msg, c.want) && !strings.Contains(msg, c.want) {
			t.Errorf("%s:\n got %s\nwant …%s", c.content, msg, c.want)
		}
		if strings.Contains(msg, "model.") || strings.Count(msg, "pgtune snapshot --out") > 1 || (strings.Contains(msg, "upgrade") && strings.Contains(msg, "take a new one")) {
			t.Errorf("%s: %s", c.content, msg)
		}
	}
}
