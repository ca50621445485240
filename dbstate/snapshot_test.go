package dbstate

import (
	"encoding/json"
	"strings"
	"testing"
)

// queryids are 64-bit: JSON carries them as strings so jq and JavaScript do not round them, and
// reads them back from strings or (older files) numbers.
func TestQueryIDJSON(t *testing.T) {
	b, err := json.Marshal(StatementRow{QueryID: -8751693515315775831})
	if err != nil || !strings.Contains(string(b), `"queryid":"-8751693515315775831"`) {
		t.Fatalf("%s %v", b, err)
	}
	for _, in := range []string{`{"queryid":"-8751693515315775831"}`, `{"queryid":-8751693515315775831}`} {
		var r StatementRow
		if err := json.Unmarshal([]byte(in), &r); err != nil || r.QueryID != -8751693515315775831 {
			t.Errorf("%s: %v %v", in, r.QueryID, err)
		}
	}
	var r StatementRow
	if err := json.Unmarshal([]byte(`{"queryid":"x"}`), &r); err == nil {
		t.Error("a non-number queryid was accepted")
	}
}
