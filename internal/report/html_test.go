package report

import (
	"bytes"
	"strings"
	"testing"
)

// page is an Output with every kind of cell and figure, each text s.
func page(s string) Output {
	return Output{Command: "advise", Version: "test", Tables: []Table{
		{Title: "first " + s, Columns: []string{"a " + s, "b"}, Rows: [][]string{{s, "2"}}, Section: "Summary " + s, Note: s,
			Figure: BarChart{Series: []string{s, "after"}, Caption: s, Bars: []Bar{{Label: s, Values: []float64{3, 1}, Text: s}}}},
		{Title: s, Fields: [][2]string{{s, s}}, Code: s, Class: "high", Section: "Findings",
			Figure: StackChart{Parts: []Part{{Label: s, Value: 2, Text: s}}, Whole: 4, WholeText: s, Marks: []Mark{{At: 3, Label: s}}}},
		{Title: "t", Figure: Timeline{Spans: []Span{{Label: s, Start: 0, Length: 5, Text: s, Class: "late"}}, Window: 4, WindowText: s, More: 2}},
		{Title: "h", Figure: Heatmap{Rows: []string{s}, Cols: []string{s, "eq"}, Values: [][]float64{{5, 0}}}},
	}}
}

func renderPage(t testing.TB, out Output) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, FormatHTML, out); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHTMLEscapesAndDraws(t *testing.T) {
	got := renderPage(t, page(`<script>alert("x")</script> & 'q'`))
	if strings.Contains(got, "<script") {
		t.Error("a text reached the page as markup")
	}
	for _, want := range []string{"&lt;script&gt;", `aria-label="bar chart"`, `aria-label="stacked bar"`, `aria-label="timeline"`, `aria-label="heatmap"`,
		`<h2>Findings</h2>`, `class="card high"`, "and 2 more", `class="late"`, `class="window"`, "<pre><code>"} {
		if !strings.Contains(got, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// The first table's title heads the page, once.
	if n := strings.Count(got, "first &lt;script&gt;"); n != 2 { // <title> and <h1>
		t.Errorf("the first title appears %d times, want 2 (title, h1)", n)
	}
	// Text formats leave the figures and sections out.
	var b bytes.Buffer
	if err := Write(&b, FormatMarkdown, page("x")); err != nil || strings.Contains(b.String(), "<svg") {
		t.Errorf("markdown drew a figure (%v)", err)
	}
}

// FuzzHTMLEscapes: whatever a text holds (a statement, a table name, an error), the page's
// markup is the same: no text adds or removes a tag.
func FuzzHTMLEscapes(f *testing.F) {
	for _, s := range []string{"", "<b>", "</svg><script>", "a\"b'c&d", "]]>", "<!--", "\x00\xff", "{{.}}", "€ ✓"} {
		f.Add(s)
	}
	tags := strings.Count(renderPage(f, page("x")), "<")
	f.Fuzz(func(t *testing.T, s string) {
		if n := strings.Count(renderPage(t, page("x"+s)), "<"); n != tags { // "x": an empty text leaves its element out
			t.Errorf("text %q changed the page's markup: %d tags, want %d", s, n, tags)
		}
	})
}
