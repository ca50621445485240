// Package report renders a command's result in the format the user asked for: a human table
// (the default), Markdown for pull requests and wikis, or JSON for machines. Every command hands
// it the same two things: a typed value (rendered as JSON) and the tables a person reads.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Format is an output format.
type Format string

// Formats.
const (
	FormatTable    Format = "table"
	FormatMarkdown Format = "markdown"
	FormatJSON     Format = "json"
	// FormatHTML is one self-contained page (html.go); only the commands whose help lists it
	// offer it.
	FormatHTML Format = "html"
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatTable, FormatMarkdown, FormatJSON, FormatHTML:
		return f, nil
	}
	return "", fmt.Errorf("unknown --format %q (want table, markdown, json or html)", s)
}

// SchemaVersion is the version of pgtune's JSON output; it changes only when a field is removed
// or changes meaning (added fields do not bump it). docs/json.md describes the documents.
const SchemaVersion = 2

// Envelope wraps every JSON document pgtune prints.
type Envelope struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// Command is the subcommand that produced the document, e.g. "check".
	Command string `json:"command"`
	// PgtuneVersion is the version of the binary.
	PgtuneVersion string `json:"pgtune_version"`
	// Result is the command's own document.
	Result any `json:"result"`
}

// Table is what a person reads: a titled grid of strings, or, with Fields instead of Columns, a
// titled record of named values (one finding's details).
type Table struct {
	Title   string
	Columns []string
	Rows    [][]string
	// Fields are name/value lines, rendered instead of a grid when Columns is empty.
	Fields [][2]string
	// Code is SQL rendered verbatim under the grid or fields (a fenced block in Markdown).
	Code string
	// Note is a line printed under the table (e.g. a total, or what to do next).
	Note string

	// What only the HTML format shows: a chart drawn above the grid, a heading that starts a
	// section when it differs from the previous table's, and a class that colours the table's
	// frame (a severity name).
	Figure  Figure
	Section string
	Class   string
}

// Output is one command's result.
type Output struct {
	Command string
	Version string
	// Data is rendered as JSON.
	Data any
	// Tables are rendered for people, in order.
	Tables []Table
	// Title heads the HTML page (default "pgtune COMMAND").
	Title string
	// Width is the terminal's width the table format fits (fit.go); 0 renders every line whole.
	Width int
}

// Write renders out to w in format f.
func Write(w io.Writer, f Format, out Output) error {
	switch f {
	case FormatHTML:
		return writeHTML(w, out)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(Envelope{SchemaVersion: SchemaVersion, Command: out.Command, PgtuneVersion: out.Version, Result: out.Data})
	case FormatMarkdown:
		for i, t := range out.Tables {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if t.Title != "" {
				fmt.Fprintf(w, "### %s\n\n", escapeMarkdown(t.Title))
			}
			if len(t.Columns) > 0 {
				if err := render(w, t, true); err != nil {
					return err
				}
			}
			for _, f := range t.Fields {
				fmt.Fprintf(w, "- **%s**: %s\n", f[0], strings.ReplaceAll(f[1], "\n", "<br>"))
			}
			if t.Code != "" {
				fmt.Fprintf(w, "\n```sql\n%s\n```\n", strings.TrimRight(t.Code, "\n"))
			}
			if t.Note != "" {
				fmt.Fprintf(w, "\n%s\n", escapeMarkdown(t.Note))
			}
		}
		return nil
	default:
		for i, t := range out.Tables {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if t.Title != "" {
				fmt.Fprintln(w, wrap(t.Title, out.Width))
			}
			if len(t.Columns) > 0 {
				if err := renderFitted(w, t, out.Width); err != nil {
					return err
				}
			}
			width := 0
			for _, f := range t.Fields {
				width = max(width, len(f[0]))
			}
			valueWidth := 0
			if out.Width > 0 {
				valueWidth = max(out.Width-(width+5), 20)
			}
			for _, f := range t.Fields {
				lines := strings.Split(wrap(f[1], valueWidth), "\n")
				fmt.Fprintf(w, "  %-*s  %s\n", width+1, f[0]+":", lines[0])
				for _, l := range lines[1:] {
					fmt.Fprintf(w, "  %-*s  %s\n", width+1, "", l)
				}
			}
			if t.Code != "" {
				codeWidth := 0
				if out.Width > 0 {
					codeWidth = max(out.Width-4, 30)
				}
				for _, l := range strings.Split(wrapSQL(strings.TrimRight(t.Code, "\n"), codeWidth, "      "), "\n") {
					fmt.Fprintf(w, "    %s\n", l)
				}
			}
			if t.Note != "" {
				fmt.Fprintln(w, wrap(t.Note, out.Width))
			}
		}
		return nil
	}
}

// renderFitted renders a grid whose cells are wrapped to the column widths that fit width.
func renderFitted(w io.Writer, t Table, width int) error {
	if width <= 0 {
		return render(w, t, false)
	}
	widths := fitColumns(t, width)
	fitted := Table{Title: t.Title, Columns: make([]string, len(t.Columns))}
	for i, c := range t.Columns {
		fitted.Columns[i] = wrap(c, widths[i])
	}
	for _, r := range t.Rows {
		row := make([]string, len(r))
		for i, c := range r {
			if i < len(widths) {
				c = wrap(c, widths[i])
			}
			row[i] = c
		}
		fitted.Rows = append(fitted.Rows, row)
	}
	return render(w, fitted, false)
}

func render(w io.Writer, t Table, markdown bool) error {
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		// Widths must not depend on the reader's locale: golden files and pipelines see the same.
		tablewriter.WithEastAsian(tw.Off),
		tablewriter.WithTrimSpace(tw.Off),
	}
	if markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	} else {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})))
	}
	tbl := tablewriter.NewTable(w, opts...)
	tbl.Header(cells(t.Columns, markdown))
	for _, r := range t.Rows {
		if err := tbl.Append(cells(r, markdown)); err != nil {
			return err
		}
	}
	return tbl.Render()
}

func cells(in []string, markdown bool) []string {
	out := make([]string, len(in))
	for i, c := range in {
		if markdown {
			// tablewriter's Markdown renderer neither escapes pipes nor keeps multi-line cells in
			// one row.
			c = strings.ReplaceAll(escapeMarkdown(c), "\n", "<br>")
		}
		out[i] = c
	}
	return out
}

func escapeMarkdown(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
