package pitr

import (
	"os"
	"path/filepath"
	"testing"
)

const seg16 = 16 << 20

func archive(t *testing.T, names []string, histories map[string]string) *Archive {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		// Sparse files of the segment size: only the size is read here.
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(seg16); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for n, body := range histories {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := ReadArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSegmentNames(t *testing.T) {
	s := Segment{Timeline: 1, No: 0x1FF}
	if n := s.Name(seg16); n != "0000000100000001000000FF" {
		t.Errorf("name %s", n)
	}
	if p, ok := parseSegmentName("0000000200000001000000FF", seg16); !ok || p.Timeline != 2 || p.No != 0x1FF {
		t.Errorf("parse %+v", p)
	}
	if l, err := ParseLSN("1/FF000028"); err != nil || l.String() != "1/FF000028" {
		t.Errorf("lsn %v %v", l, err)
	}
}

func TestContinuity(t *testing.T) {
	start, _ := ParseLSN("0/2000028") // segment 2
	t.Run("complete", func(t *testing.T) {
		a := archive(t, []string{"000000010000000000000002", "000000010000000000000003", "000000010000000000000004"}, nil)
		gap, last := a.Continuity(start, 1, 1)
		if gap != nil || last.No != 4 {
			t.Errorf("gap %v, last %+v", gap, last)
		}
	})
	t.Run("a segment missing", func(t *testing.T) {
		a := archive(t, []string{"000000010000000000000002", "000000010000000000000004"}, nil)
		if gap, _ := a.Continuity(start, 1, 1); gap == nil || gap.Segment != "000000010000000000000003" {
			t.Errorf("gap %v", gap)
		}
	})
	t.Run("a promotion: timeline 2 forks in segment 4", func(t *testing.T) {
		a := archive(t, []string{"000000010000000000000002", "000000010000000000000003",
			"000000020000000000000004", "000000020000000000000005"},
			map[string]string{"00000002.history": "1\t0/4000100\tno recovery target specified\n"})
		if a.Latest() != 2 || !a.Descends(2, 1, start) {
			t.Fatalf("latest %d, descends %v", a.Latest(), a.Descends(2, 1, start))
		}
		gap, last := a.Continuity(start, 1, 2)
		if gap != nil || last != (Segment{2, 5}) {
			t.Errorf("gap %v, last %+v", gap, last)
		}
	})
	t.Run("a foreign timeline forked before the backup", func(t *testing.T) {
		a := archive(t, []string{"000000010000000000000002", "000000030000000000000001"},
			map[string]string{"00000003.history": "1\t0/1000000\tbefore the backup\n"})
		if a.Descends(3, 1, start) {
			t.Error("timeline 3 forked before the backup started: recovery cannot follow it")
		}
	})
}

// Fuzz what the drill reads from outside: LSNs, history files, backup labels.
func FuzzParseLSN(f *testing.F) {
	for _, s := range []string{"0/2000028", "1/FF000028", "FFFFFFFF/FFFFFFFF", "", "/", "0/", "g/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLSN(s)
		if err != nil {
			return
		}
		if back, err := ParseLSN(l.String()); err != nil || back != l {
			t.Fatalf("%q → %v → %v, %v", s, l, back, err)
		}
	})
}

func FuzzHistoryAndLabel(f *testing.F) {
	f.Add("1\t0/4000100\tno recovery target specified\n")
	f.Add("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTART TIMELINE: 1\nSTART TIME: 2026-11-27 10:00:00 UTC\n")
	f.Add("# comment\n2 1/0 x\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "00000002.history")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = readHistory(p)
		b := &Backup{}
		if err := b.parseLabel(body); err == nil && (b.StartLSN == 0 || b.StartTimeline == 0) {
			t.Fatalf("a label without its start accepted: %+v", b)
		}
	})
}
