package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// In a real terminal of 80 and 120 columns (tmux), advise's tables, records and SQL fit: no line
// is wider than the terminal, and what they say is all there (wrapped, not dropped).
func TestTablesFitTheTerminal(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed (apt-get install tmux)")
		}
		t.Skip("tmux is not installed")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g history-limit 20000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := map[int]int{}
	for _, width := range []int{80, 120} {
		socket := fmt.Sprintf("pgtune-fit-%d-%d", os.Getpid(), width)
		tm := func(args ...string) (string, error) {
			out, err := exec.Command(tmux, append([]string{"-L", socket, "-f", conf}, args...)...).CombinedOutput()
			return string(out), err
		}
		// The test binary, as pgtune, writes to the pane: its stdout is the terminal. The
		// marker after it says the output is all there.
		const done = "__pgtune_done__"
		if out, err := tm("new-session", "-d", "-s", "fit", "-x", fmt.Sprint(width), "-y", "50",
			"-e", asPgtune+"=advise\x1f--demo", "-e", "COLUMNS=", "sh", "-c", `"$0"; echo `+done+`; sleep 60`, os.Args[0]); err != nil {
			t.Fatalf("tmux new-session: %v\n%s", err, out)
		}
		t.Cleanup(func() { tm("kill-server") })
		var screen string
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			// -J joins the lines tmux wrapped itself: a line too wide shows whole.
			if screen, err = tm("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "fit"); err != nil {
				t.Fatal(err)
			}
			if i := strings.Index(screen, done); i >= 0 {
				screen = screen[:i]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("advise --demo did not finish in a %d-column terminal", width)
			}
		}
		widest, n := 0, 0
		for _, l := range strings.Split(screen, "\n") {
			l = strings.TrimRight(l, " ")
			n++
			if w := utf8.RuneCountInString(l); w > widest {
				widest = w
			}
			if utf8.RuneCountInString(l) > width {
				t.Errorf("%d columns: a line of %d: %q", width, utf8.RuneCountInString(l), l)
			}
		}
		lines[width] = n
		for _, want := range []string{"notifications_scheduled_for_pending_idx", "CREATE INDEX CONCURRENTLY IF NOT EXISTS", "How the workload reaches each table"} {
			if !strings.Contains(screen, want) {
				t.Errorf("%d columns: %q missing from the screen", width, want)
			}
		}
		t.Logf("%d columns: %d lines, the widest %d", width, n, widest)
	}
	if lines[120] >= lines[80] {
		t.Errorf("120 columns took %d lines, 80 took %d: the wider terminal should need fewer", lines[120], lines[80])
	}
}

// Without a terminal, COLUMNS sets the width; --wide (and piping with no COLUMNS) keeps every
// line whole.
func TestColumnsAndWide(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	fitted := run(t, "advise", "--demo")
	wide := run(t, "advise", "--demo", "--wide")
	widest := func(s string) int {
		n := 0
		for _, l := range strings.Split(s, "\n") {
			n = max(n, utf8.RuneCountInString(l))
		}
		return n
	}
	if fitted.code != ExitOK || widest(fitted.stdout) > 80 {
		t.Errorf("COLUMNS=80: exit %d, widest line %d", fitted.code, widest(fitted.stdout))
	}
	if widest(wide.stdout) <= 80 {
		t.Errorf("--wide: the widest line is %d, want the whole lines back", widest(wide.stdout))
	}
	t.Setenv("COLUMNS", "")
	if piped := run(t, "advise", "--demo"); piped.stdout != wide.stdout {
		t.Error("piped without COLUMNS, the output is not the whole lines --wide gives")
	}
}
