package quote

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestName(t *testing.T) {
	for _, c := range []struct {
		parts []string
		want  string
	}{
		{[]string{"appointments", "barber_id", "start_time"}, "appointments_barber_id_start_time_idx"},
		{[]string{"t", "../../../tmp/pwn"}, "t_tmp_pwn_idx"},
		{[]string{"Größe", "Straße"}, "größe_straße_idx"},
		{[]string{"", "  "}, "idx"},
	} {
		if got := Name("idx", c.parts...); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.parts, got, c.want)
		}
	}
	long := Name("idx", strings.Repeat("ü", 40), strings.Repeat("é", 40))
	if len(long) > MaxIdentifier || !utf8.ValidString(long) || !strings.HasSuffix(long, "_idx") {
		t.Errorf("long name %q: %d bytes, valid UTF-8 %v", long, len(long), utf8.ValidString(long))
	}
	if Name("idx", strings.Repeat("a", 70)) == Name("idx", strings.Repeat("a", 71)) {
		t.Error("two long names collide")
	}
}

func FuzzName(f *testing.F) {
	for _, s := range []string{"../../etc/passwd", "a/b", "ü", "..", "x\x00y", strings.Repeat("€", 30)} {
		f.Add(s, "col")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		n := Name("idx", a, b)
		if len(n) > MaxIdentifier || !utf8.ValidString(n) {
			t.Fatalf("Name(%q, %q) = %q (%d bytes)", a, b, n, len(n))
		}
		if strings.ContainsAny(n, `/\.`) || n != filepath.Base(n) || HasControl(n) {
			t.Fatalf("Name(%q, %q) = %q is not a plain file name", a, b, n)
		}
	})
}
