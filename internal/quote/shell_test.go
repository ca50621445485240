package quote

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var awkward = []string{"plain", "two words", "it's", `back\slash`, "100%", "$HOME", "a\nb", "", `"q"`, "semi;colon", "tab\there", "ünï"}

// A real shell reads each quoted argument back as it was.
func TestShellRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, s := range awkward {
		out, err := exec.Command(sh, "-c", "printf %s "+Shell(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("Shell(%q) = %s reads back as %q (%v)", s, Shell(s), out, err)
		}
		if strings.Contains(Shell(s), "\n") {
			t.Errorf("Shell(%q) spans lines", s)
		}
	}
}

// A crontab line's command is what cron hands to /bin/sh after turning '\%' into '%'.
func TestCrontab(t *testing.T) {
	for _, s := range awkward {
		q := Crontab(s)
		if strings.Contains(strings.ReplaceAll(q, `\%`, ""), "%") {
			t.Errorf("Crontab(%q) = %s leaves a bare %%", s, q)
		}
		cmd := strings.ReplaceAll(q, `\%`, "%")
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+cmd).Output()
		if err == nil && !HasControl(s) && string(out) != s {
			t.Errorf("Crontab(%q) = %s reads back as %q", s, q, out)
		}
	}
}

// systemd-analyze (where installed) accepts a unit whose ExecStart holds every awkward argument.
func TestSystemd(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "100%": `"100%%"`, "$HOME": `"$$HOME"`, `say "hi"`: `"say \"hi\""`, `a\b`: `"a\\b"`} {
		if got := Systemd(in); got != want {
			t.Errorf("Systemd(%q) = %s, want %s", in, got, want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: checked as text only")
		return
	}
	var args []string
	for _, s := range awkward {
		if !HasControl(s) {
			args = append(args, Systemd(s))
		}
	}
	dir := t.TempDir()
	unit := filepath.Join(dir, "q.service")
	body := "[Service]\nType=oneshot\nExecStart=/bin/true " + strings.Join(args, " ") + "\n"
	if err := os.WriteFile(unit, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
