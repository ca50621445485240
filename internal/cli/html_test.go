package cli

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// The HTML reports are tested in a real browser: Debian's chromium, headless, renders each to a
// PNG (and advise's to a PDF, as printing does); the test checks the page drew (the size asked,
// not blank, the charts' colours present) with no console message, the Content-Security-Policy
// having turned any load into one, and that the file names nothing outside itself.

// chromium finds the browser; without it the test skips, or fails under CI=true (.ci/run
// installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	return pgtest.Program(t, "chromium", "chromium")
}

var (
	svgRe  = regexp.MustCompile(`(?s)<svg\b.*?</svg>`)
	attrRe = regexp.MustCompile(`(?i)\b(href|src|srcset|action|xlink:href|data)\s*=\s*"([^"]*)"`)
	// What would load something: an element that fetches, a CSS import or url(), a scheme.
	externalRe = regexp.MustCompile(`(?i)<(script|link|img|iframe|object|embed|video|audio|source)\b|@import|url\(|https?://|//[a-z0-9.-]+\.[a-z]{2,}/`)
)

// checkSelfContained fails on anything in page that points outside it.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	if m := externalRe.FindString(page); m != "" {
		t.Errorf("the report references something outside itself: %q", m)
	}
	for _, m := range attrRe.FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[2], "#") {
			t.Errorf("the report links outside itself: %s=%q", m[1], m[2])
		}
	}
	if !strings.Contains(page, `content="default-src 'none'; style-src 'unsafe-inline'"`) {
		t.Error("the report lacks its Content-Security-Policy")
	}
}

// chartColours are the stylesheet's fills for bars, spans and segments.
var chartColours = [][3]uint8{{0x09, 0x69, 0xda}, {0x82, 0x50, 0xdf}, {0x1a, 0x7f, 0x37}, {0xbc, 0x4c, 0x00}, {0xbf, 0x39, 0x89},
	{0x8c, 0x95, 0x9f}, {0xd1, 0x24, 0x2f}, {0x9a, 0x67, 0x00}, {0xa4, 0x0e, 0x26}}

// renderHTML writes page to a file, renders it in chromium at width × height and checks the
// picture; with pdf it prints the page too. It returns the screenshot.
func renderHTML(t *testing.T, name, page string, width, height int, pdf bool) image.Image {
	t.Helper()
	bin := chromium(t)
	checkSelfContained(t, page)
	dir := t.TempDir()
	file := filepath.Join(dir, name+".html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, name+".png")
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
		"--disable-background-networking", "--disable-sync", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--enable-logging=stderr", "--v=0", "--window-size=" + strconv.Itoa(width) + "," + strconv.Itoa(height)}
	screenshot := func(file, shot string) image.Image {
		cmd := exec.CommandContext(t.Context(), bin, append(args, "--screenshot="+shot, "file://"+file)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, ":CONSOLE") {
				t.Errorf("%s: chromium's console: %s", name, l)
			}
		}
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("%s: no screenshot: %v\n%s", name, err, out)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("%s: the screenshot is no PNG: %v", name, err)
		}
		return img
	}
	img := screenshot(file, shot)
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("%s: screenshot %dx%d, want %dx%d", name, b.Dx(), b.Dy(), width, height)
	}
	inked, charted := inkAndCharts(img)
	if inked < 0.03 {
		t.Errorf("%s: the page is blank: %.1f %% of its pixels are not white", name, 100*inked)
	}
	// The control: the same page with its charts taken out. The charts' colours also frame the
	// cards and colour the links, so what the charts drew is the difference.
	bare := filepath.Join(dir, name+"-bare.html")
	if err := os.WriteFile(bare, []byte(svgRe.ReplaceAllString(page, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, without := inkAndCharts(screenshot(bare, filepath.Join(dir, name+"-bare.png")))
	if charted-without < 400 {
		t.Errorf("%s: %d pixels in the charts' colours, %d without the charts: the charts did not draw", name, charted, without)
	}
	// A failed render keeps its page and picture; PGTUNE_KEEP_HTML=DIR keeps every one (to look at).
	if keep := os.Getenv("PGTUNE_KEEP_HTML"); keep != "" || t.Failed() {
		if keep == "" {
			keep = filepath.Join(os.TempDir(), "pgtune-html")
		}
		_ = os.MkdirAll(keep, 0o755)
		_ = os.WriteFile(filepath.Join(keep, name+".html"), []byte(page), 0o644)
		if b, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(filepath.Join(keep, name+".png"), b, 0o644)
		}
		t.Logf("kept %s.html and its screenshot in %s", name, keep)
	}
	if pdf {
		doc := filepath.Join(dir, name+".pdf")
		cmd := exec.CommandContext(t.Context(), bin, append(args, "--no-pdf-header-footer", "--print-to-pdf="+doc, "file://"+file)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium --print-to-pdf: %v\n%s", err, out)
		}
		b, err := os.ReadFile(doc)
		if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) || bytes.Count(b, []byte("/Type /Page")) < 2 {
			t.Errorf("%s: printing gave no multi-page PDF (%d bytes, %v)", name, len(b), err)
		}
	}
	return img
}

// inkAndCharts measures a screenshot: the share of pixels that are not white, and how many
// carry one of the charts' colours (exactly; antialiased edges aside).
func inkAndCharts(img image.Image) (float64, int) {
	b := img.Bounds()
	inked, charted, all := 0, 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			all++
			r, g, bl, _ := img.At(x, y).RGBA()
			c := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}
			if c != [3]uint8{255, 255, 255} {
				inked++
			}
			for _, want := range chartColours {
				if near(c, want) {
					charted++
					break
				}
			}
		}
	}
	return float64(inked) / float64(all), charted
}

func near(a, b [3]uint8) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a[0], b[0])+d(a[1], b[1])+d(a[2], b[2]) <= 12
}

// TestHTMLReports renders the reports that need no server: advise on the demo snapshot (on a
// desktop, on a phone, and printed) and config's budgets, one of them over its memory.
func TestHTMLReports(t *testing.T) {
	t.Parallel()
	r := run(t, "advise", "--demo", "--format", "html")
	if r.code != ExitOK {
		t.Fatalf("advise --demo --format html: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"<h2>Findings: high</h2>", `class="card high"`, "CREATE INDEX CONCURRENTLY", "cost without the index",
		"Top 10 statements by total execution time", `aria-label="heatmap"`, "public.appointments.start_time", "write cost"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("advise's report lacks %q", want)
		}
	}
	renderHTML(t, "advise", r.stdout, 1100, 2400, true)
	phone := renderHTML(t, "advise-phone", r.stdout, 412, 6000, false)
	// On a phone the grid is one card per row: nothing runs off the right edge of the page.
	if inked := columnInk(phone, 411); inked > 0.05 {
		t.Errorf("on a 412-pixel phone, %.0f %% of the last column's pixels are ink: something overflows", 100*inked)
	}

	r = run(t, "config", "--memory", "16GB", "--cpus", "4", "--replicas", "2", "--format", "html")
	if r.code != ExitOK {
		t.Fatalf("config --format html: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"Memory budget (worst case)", "Connection budget", "RAM 16 GB", "available 14.4 GB", "max_connections"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config's report lacks %q", want)
		}
	}
	renderHTML(t, "config", r.stdout, 1100, 4500, false)

	// The tightest configuration that cannot fit says so on its chart.
	r = run(t, "config", "--memory", "1GB", "--cpus", "2", "--max-connections", "2000", "--format", "html")
	if !strings.Contains(r.stdout, "THE WORST CASE IS") {
		t.Errorf("an over-budget config's chart does not say so (exit %d): %s", r.code, r.stderr)
	}

	// A command without a report refuses html by name.
	if r := run(t, "check", "--format", "html"); r.code != ExitUsage || !strings.Contains(r.stderr, "html is for advise, maintain plan, backup verify and config") {
		t.Errorf("check --format html: exit %d: %s", r.code, r.stderr)
	}
}

// columnInk is the share of non-white pixels in column x (the page's white margin on a phone).
func columnInk(img image.Image, x int) float64 {
	b := img.Bounds()
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		r, g, bl, _ := img.At(x, y).RGBA()
		if r>>8 < 250 || g>>8 < 250 || bl>>8 < 250 {
			inked++
		}
	}
	return float64(inked) / float64(b.Dy())
}
