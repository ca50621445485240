package report

import (
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
)

// writeHTML renders out as one self-contained page: inline CSS and SVG, no script, nothing
// fetched (its Content-Security-Policy forbids every load, so a reference that slipped in shows
// as a console error rather than a request), readable on a phone and printable. It is meant to
// be attached to a ticket or a pull request; the numbers are the JSON document's.
func writeHTML(w io.Writer, out Output) error {
	page := htmlPage{Command: out.Command, Version: out.Version, Title: out.Title}
	tables := slices.Clone(out.Tables) // the caller's stay as they are
	if page.Title == "" && len(tables) > 0 && tables[0].Title != "" {
		// The first table's title says what the page is (the database, the server, the backup).
		page.Title, tables[0].Title = tables[0].Title, ""
	}
	if page.Title == "" {
		page.Title = "pgtune " + out.Command
	}
	section := ""
	for _, t := range tables {
		if t.Section != "" && t.Section != section {
			section = t.Section
			page.Sections = append(page.Sections, htmlSection{ID: "s" + strconv.Itoa(len(page.Sections)+1), Title: section})
		}
		if len(page.Sections) == 0 {
			page.Sections = append(page.Sections, htmlSection{ID: "s1"})
		}
		card := htmlCard{Table: t, Class: t.Class}
		if t.Figure != nil {
			var b strings.Builder
			t.Figure.svg(&b)
			card.Figure = template.HTML(b.String()) //nolint:gosec // every text in it went through esc
		}
		s := &page.Sections[len(page.Sections)-1]
		s.Cards = append(s.Cards, card)
	}
	return htmlTemplate.Execute(w, page)
}

type htmlPage struct {
	Command, Version, Title string
	Sections                []htmlSection
}

type htmlSection struct {
	ID, Title string
	Cards     []htmlCard
}

type htmlCard struct {
	Table
	Class  string
	Figure template.HTML
}

var htmlTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="generator" content="pgtune {{.Version}}">
<title>{{.Title}}</title>
<style>` + stylesheet + `</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p class="meta">pgtune {{.Version}} · {{.Command}} · the same result as <code>--format json</code></p>
{{- if gt (len .Sections) 1}}
<nav>{{range .Sections}}{{if .Title}}<a href="#{{.ID}}">{{.Title}}</a> {{end}}{{end}}</nav>
{{- end}}
</header>
<main>
{{- range .Sections}}
<section id="{{.ID}}">
{{- if .Title}}
<h2>{{.Title}}</h2>
{{- end}}
{{- range .Cards}}
<article class="card {{.Class}}">
{{- if .Title}}
<h3>{{.Title}}</h3>
{{- end}}
{{- if .Figure}}
<figure class="scroll">{{.Figure}}</figure>
{{- end}}
{{- if .Columns}}
<div class="scroll"><table>
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- $cols := .Columns}}
{{- range .Rows}}
<tr>{{range $i, $c := .}}<td data-label="{{index $cols $i}}">{{$c}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- if .Fields}}
<dl>
{{- range .Fields}}
<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>
{{- end}}
</dl>
{{- end}}
{{- if .Code}}
<pre><code>{{.Code}}</code></pre>
{{- end}}
{{- if .Note}}
<p class="note">{{.Note}}</p>
{{- end}}
</article>
{{- end}}
</section>
{{- end}}
</main>
<footer>Written by pgtune {{.Version}}. Charts are drawn from the tables beside them; nothing in this file is loaded from elsewhere.</footer>
</body>
</html>
`))

// stylesheet: system fonts, a narrow column on phones, every colour with a printed meaning.
const stylesheet = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--card:#f6f8fa;
--critical:#a40e26;--high:#d1242f;--medium:#bc4c00;--low:#9a6700;--info:#0969da;--ok:#1a7f37}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:12px;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.4em;margin:.3em 0}
h2{font-size:1.2em;margin:1.2em 0 .4em;border-bottom:1px solid var(--line)}
h3{font-size:1em;margin:0 0 .5em}
.meta,footer{color:var(--muted);font-size:.85em}
nav a{display:inline-block;margin:0 .8em .3em 0;color:var(--info)}
.card{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--line);border-radius:6px;padding:10px 12px;margin:10px 0;break-inside:avoid-page}
.card.critical{border-left-color:var(--critical)}.card.high{border-left-color:var(--high)}
.card.medium{border-left-color:var(--medium)}.card.low{border-left-color:var(--low)}
.card.info{border-left-color:var(--info)}.card.ok{border-left-color:var(--ok)}.card.failed{border-left-color:var(--high)}
figure{margin:0 0 8px}
svg.figure{width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:4px;font-size:12px}
svg text{fill:var(--fg)}svg text.label{text-anchor:end}svg text.strong{font-weight:600}
svg text.col{font-size:11px}svg text.on-dark{fill:#fff}svg text.on-light{fill:var(--fg)}
svg .c0{fill:#0969da}svg .c1{fill:#8250df}svg .c2{fill:#1a7f37}svg .c3{fill:#bc4c00}svg .c4{fill:#bf3989}svg .c5{fill:#57606a}
svg .s0{fill:#8c959f}svg .s1{fill:#1a7f37}
svg .critical{fill:var(--critical)}svg .high{fill:var(--high)}svg .medium{fill:var(--medium)}svg .low{fill:var(--low)}svg .info{fill:var(--info)}
svg .ok{fill:var(--ok)}svg .failed{fill:var(--high)}svg .late{fill:#fff;stroke:var(--high);stroke-dasharray:4 2}svg .skipped{fill:#d0d7de}
svg .whole{fill:none;stroke:var(--fg);stroke-width:1.5}svg .mark{stroke:var(--fg);stroke-width:2}
svg .window{stroke:var(--high);stroke-width:2;stroke-dasharray:6 3}svg .tick{stroke:var(--line)}
svg .heat{fill:#0969da}svg .empty{fill:#eef1f4}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.88em;background:#fff}
th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top;white-space:pre-line;overflow-wrap:break-word}
th{background:#eef1f4}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 6px}
dt{color:var(--muted)}dd{margin:0;white-space:pre-line;overflow-wrap:anywhere}
pre{background:#fff;border:1px solid var(--line);border-radius:4px;padding:8px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85em}
.note{margin:.4em 0 0;white-space:pre-line}
@media (max-width:600px){body{font-size:14px;padding:6px}dl{grid-template-columns:1fr}dt{font-weight:600}
svg.figure{min-width:600px}
table,tbody,tr,td{display:block}thead{display:none}tr{border:1px solid var(--line);margin:0 0 6px}
td{border:0;border-bottom:1px solid #eef1f4;padding:2px 6px}td::before{content:attr(data-label) ": ";color:var(--muted)}}
@media print{body{max-width:none;font-size:10pt}.card{background:none}nav{display:none}.scroll{overflow:visible}a{color:inherit}}
`
