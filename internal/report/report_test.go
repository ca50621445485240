package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var sample = Output{
	Command: "check",
	Version: "v0.0.0-test",
	Data:    map[string]any{"ok": true},
	Tables: []Table{{
		Title:   "Checks",
		Columns: []string{"check", "status"},
		Rows:    [][]string{{"a|b", "ok"}, {"multi\nline", "fail"}},
		Note:    "1 failed",
	}},
}

func TestMarkdownEscapesPipesAndNewlines(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatMarkdown, sample); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `a\|b`) || !strings.Contains(out, "multi<br>line") {
		t.Errorf("markdown not escaped:\n%s", out)
	}
	if strings.Count(out, "\n|") != 4 { // header, separator, two rows
		t.Errorf("want 4 table rows:\n%s", out)
	}
}

func TestTableIsPlainASCII(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatTable, sample); err != nil {
		t.Fatal(err)
	}
	for _, r := range buf.String() {
		if r > 127 {
			t.Fatalf("non-ASCII %q in table output:\n%s", r, buf.String())
		}
	}
	if !strings.HasPrefix(buf.String(), "Checks\n") || !strings.Contains(buf.String(), "1 failed") {
		t.Errorf("title or note missing:\n%s", buf.String())
	}
}

func TestJSONEnvelope(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatJSON, sample); err != nil {
		t.Fatal(err)
	}
	var env struct {
		SchemaVersion int            `json:"schema_version"`
		Command       string         `json:"command"`
		PgtuneVersion string         `json:"pgtune_version"`
		Result        map[string]any `json:"result"`
	}
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	if env.SchemaVersion != SchemaVersion || env.Command != "check" || env.Result["ok"] != true {
		t.Errorf("envelope: %+v", env)
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"table", "markdown", "JSON", "html"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "table, markdown, json or html") {
		t.Errorf("yaml: %v", err)
	}
}
