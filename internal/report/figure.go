package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A Figure is a chart the HTML format draws as inline SVG above its table. The other formats
// leave it out: the table's rows carry the same numbers. Figures are drawn here, by the program
// (no script, no library, nothing fetched), so a report is one file that opens anywhere.
type Figure interface {
	// svg writes the figure as one <svg> element.
	svg(b *strings.Builder)
}

// Classes colour bars and spans (the stylesheet in html.go): a severity name ("critical",
// "high", "medium", "low", "info"), "ok", "failed", "late" (past the window), "skipped", or
// empty for the palette's next colour.

// BarChart is one horizontal bar per row, or a group of bars when Series names more than one
// value per row (e.g. a statement's planner cost before and after an index).
type BarChart struct {
	Series []string
	Bars   []Bar
	// Caption is a line over the bars (e.g. the index's size and write cost).
	Caption string
}

// Bar is one row of a BarChart.
type Bar struct {
	Label  string
	Values []float64
	// Text is printed at the end of the row (the value in words, e.g. "12.3 s, 24.8 %").
	Text  string
	Class string
}

// StackChart is one bar split into parts, against a whole (RAM, max_connections, a window).
type StackChart struct {
	Parts []Part
	// Whole is the bar's full length; Marks are lines across it (e.g. "available").
	Whole     float64
	WholeText string
	Marks     []Mark
}

// Part is one segment of a StackChart.
type Part struct {
	Label string
	Value float64
	Text  string
	Class string
}

// Mark is a labelled vertical line at a position on a StackChart's or Timeline's scale.
type Mark struct {
	At    float64
	Label string
}

// Timeline is a row per span on a time axis in seconds: the night's actions on their job, or
// the steps of a drill one after another.
type Timeline struct {
	Spans []Span
	// Window, when positive, is drawn as a line: spans past it do not fit.
	Window     float64
	WindowText string
	// More, when positive, says how many spans were left out of the drawing.
	More int
}

// Span is one bar of a Timeline.
type Span struct {
	Label         string
	Start, Length float64 // seconds
	Text          string
	Class         string
}

// Heatmap is a grid of counts, shaded by size: rows (e.g. table.column) by columns (kinds of use).
type Heatmap struct {
	Rows, Cols []string
	Values     [][]float64
}

const (
	figWidth   = 720.0
	labelWidth = 250.0
	textWidth  = 150.0
	rowHeight  = 22.0
)

func esc(s string) string { return html.EscapeString(s) }

// short cuts a label to n characters with a visible mark; the full text stays in its <title>.
func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func svgOpen(b *strings.Builder, height float64, label string) {
	fmt.Fprintf(b, `<svg class="figure" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, figWidth, height, esc(label))
}

func classOr(class string, i int) string {
	if class != "" {
		return class
	}
	return fmt.Sprintf("c%d", i%6)
}

func (c BarChart) svg(b *strings.Builder) {
	series := max(len(c.Series), 1)
	maxV := 0.0
	for _, bar := range c.Bars {
		for _, v := range bar.Values {
			maxV = max(maxV, v)
		}
	}
	barH := (rowHeight - 6) / float64(series)
	top := 0.0
	if len(c.Series) > 1 || c.Caption != "" {
		top = rowHeight
	}
	height := top + float64(len(c.Bars))*rowHeight + 4
	svgOpen(b, height, "bar chart")
	if len(c.Series) > 1 {
		x := labelWidth
		for i, s := range c.Series {
			fmt.Fprintf(b, `<rect class="s%d" x="%.1f" y="4" width="12" height="12"/><text x="%.1f" y="15">%s</text>`, i, x, x+16, esc(s))
			x += 20 + 8*float64(len([]rune(s))) + 16
		}
	}
	if c.Caption != "" {
		fmt.Fprintf(b, `<text x="%.1f" y="15" text-anchor="end" class="strong">%s</text>`, figWidth-4, esc(c.Caption))
	}
	span := figWidth - labelWidth - textWidth
	for i, bar := range c.Bars {
		y := top + float64(i)*rowHeight
		fmt.Fprintf(b, `<g><title>%s</title><text x="%.1f" y="%.1f" class="label">%s</text>`, esc(bar.Label), labelWidth-6, y+15, esc(short(bar.Label, 34)))
		for j, v := range bar.Values {
			w := 0.0
			if maxV > 0 {
				w = max(span*v/maxV, 1)
			}
			class := classOr(bar.Class, 0)
			if len(c.Series) > 1 {
				class = fmt.Sprintf("s%d", j)
			}
			fmt.Fprintf(b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, class, labelWidth, y+3+float64(j)*barH, w, barH-1)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text></g>`, labelWidth+span+6, y+15, esc(bar.Text))
	}
	b.WriteString(`</svg>`)
}

func (c StackChart) svg(b *strings.Builder) {
	sum := 0.0
	for _, p := range c.Parts {
		sum += max(p.Value, 0)
	}
	scale := max(sum, c.Whole)
	for _, m := range c.Marks {
		scale = max(scale, m.At)
	}
	legendRows := len(c.Parts)
	height := 70 + float64(legendRows)*rowHeight
	svgOpen(b, height, "stacked bar")
	span := figWidth - 2
	x := 1.0
	for i, p := range c.Parts {
		if p.Value <= 0 || scale <= 0 {
			continue
		}
		w := span * p.Value / scale
		fmt.Fprintf(b, `<rect class="%s" x="%.1f" y="8" width="%.1f" height="28"><title>%s: %s</title></rect>`, classOr(p.Class, i), x, w, esc(p.Label), esc(p.Text))
		x += w
	}
	if c.Whole > 0 && scale > 0 {
		fmt.Fprintf(b, `<rect class="whole" x="1" y="6" width="%.1f" height="32"/>`, span*c.Whole/scale)
	}
	for _, m := range c.Marks {
		if scale <= 0 {
			break
		}
		mx := 1 + span*m.At/scale
		anchor := "end"
		if mx < figWidth/2 {
			anchor = "start"
		}
		fmt.Fprintf(b, `<line class="mark" x1="%.1f" y1="2" x2="%.1f" y2="44"/><text x="%.1f" y="58" text-anchor="%s">%s</text>`, mx, mx, mx, anchor, esc(m.Label))
	}
	if c.WholeText != "" {
		fmt.Fprintf(b, `<text x="1" y="58" class="strong">%s</text>`, esc(c.WholeText))
	}
	for i, p := range c.Parts {
		y := 70 + float64(i)*rowHeight
		fmt.Fprintf(b, `<rect class="%s" x="1" y="%.1f" width="12" height="12"/><text x="20" y="%.1f">%s</text><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`,
			classOr(p.Class, i), y, y+11, esc(short(p.Label, 60)), figWidth-2, y+11, esc(p.Text))
	}
	b.WriteString(`</svg>`)
}

func (c Timeline) svg(b *strings.Builder) {
	end := c.Window
	for _, s := range c.Spans {
		end = max(end, s.Start+s.Length)
	}
	axis := 30.0
	height := axis + float64(len(c.Spans))*rowHeight + 6
	if c.More > 0 {
		height += rowHeight
	}
	svgOpen(b, height, "timeline")
	span := figWidth - labelWidth - textWidth
	at := func(sec float64) float64 {
		if end <= 0 {
			return labelWidth
		}
		return labelWidth + span*sec/end
	}
	// The axis: five ticks in words.
	for i := 0; i <= 4; i++ {
		t := end * float64(i) / 4
		x := at(t)
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		fmt.Fprintf(b, `<line class="tick" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><text x="%.1f" y="14" text-anchor="%s">%s</text>`,
			x, axis-8, x, height-4, x, anchor, esc(Seconds(t)))
	}
	for i, s := range c.Spans {
		y := axis + float64(i)*rowHeight
		w := at(s.Start+s.Length) - at(s.Start)
		fmt.Fprintf(b, `<g><title>%s: %s</title><text x="%.1f" y="%.1f" class="label">%s</text><rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/><text x="%.1f" y="%.1f">%s</text></g>`,
			esc(s.Label), esc(s.Text), labelWidth-6, y+15, esc(short(s.Label, 34)), classOr(s.Class, 0), at(s.Start), y+3, max(w, 2), rowHeight-6, labelWidth+span+6, y+15, esc(s.Text))
	}
	if c.More > 0 {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="label">and %d more (see the table)</text>`, labelWidth-6, axis+float64(len(c.Spans))*rowHeight+15, c.More)
	}
	if c.Window > 0 {
		x := at(c.Window)
		fmt.Fprintf(b, `<line class="window" x1="%.1f" y1="18" x2="%.1f" y2="%.1f"/><text x="%.1f" y="27" text-anchor="end" class="strong">%s</text>`, x, x, height-4, x-4, esc(c.WindowText))
	}
	b.WriteString(`</svg>`)
}

func (h Heatmap) svg(b *strings.Builder) {
	maxV := 0.0
	for _, r := range h.Values {
		for _, v := range r {
			maxV = max(maxV, v)
		}
	}
	head := 90.0
	cell := min(56.0, (figWidth-labelWidth-50)/max(float64(len(h.Cols)), 1))
	height := head + float64(len(h.Rows))*rowHeight + 4
	svgOpen(b, height, "heatmap")
	for j, c := range h.Cols {
		x := labelWidth + float64(j)*cell + cell/2
		fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(-45)" class="col">%s</text>`, x, head-6, esc(short(c, 16)))
	}
	for i, r := range h.Rows {
		y := head + float64(i)*rowHeight
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="label"><title>%s</title>%s</text>`, labelWidth-6, y+15, esc(r), esc(short(r, 34)))
		for j := range h.Cols {
			v := 0.0
			if i < len(h.Values) && j < len(h.Values[i]) {
				v = h.Values[i][j]
			}
			if v <= 0 {
				fmt.Fprintf(b, `<rect class="empty" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, labelWidth+float64(j)*cell+1, y+1, cell-2, rowHeight-2)
				continue
			}
			// Calls span orders of magnitude: shade by the logarithm, so a rare use still shows.
			level := 0.15 + 0.85*math.Log1p(v)/math.Log1p(maxV)
			fmt.Fprintf(b, `<rect class="heat" fill-opacity="%.2f" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s, %s: %s calls</title></rect>`,
				level, labelWidth+float64(j)*cell+1, y+1, cell-2, rowHeight-2, esc(r), esc(h.Cols[j]), compact(v))
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" class="%s">%s</text>`, labelWidth+float64(j)*cell+cell/2, y+15, heatText(level), compact(v))
		}
	}
	b.WriteString(`</svg>`)
}

func heatText(level float64) string {
	if level > 0.55 {
		return "on-dark"
	}
	return "on-light"
}

// compact prints a count in a cell's width: 950, 12k, 3.4M.
func compact(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.1fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// Seconds prints a duration in seconds for an axis: 0 s, 45 s, 12 min, 3.5 h.
func Seconds(s float64) string {
	switch {
	case s < 1 && s > 0:
		return fmt.Sprintf("%.0f ms", s*1000)
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	case s < 7200:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}
