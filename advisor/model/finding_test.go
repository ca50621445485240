package model

import (
	"encoding/json"
	"testing"
)

func TestParseSeverityRoundTrip(t *testing.T) {
	for s := SeverityInfo; s <= SeverityCritical; s++ {
		got, err := ParseSeverity(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
	if _, err := ParseSeverity("urgent"); err == nil {
		t.Error("ParseSeverity(urgent) succeeded; want an error")
	}
	if got, _ := ParseSeverity("HIGH"); got != SeverityHigh {
		t.Errorf("ParseSeverity is case-sensitive: got %v", got)
	}
}

func TestSeverityJSON(t *testing.T) {
	b, err := json.Marshal(Finding{Rule: "r", Severity: SeverityHigh, Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rule":"r","severity":"high","title":"t"}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var f Finding
	if err := json.Unmarshal(b, &f); err != nil || f.Severity != SeverityHigh {
		t.Errorf("unmarshal: %v, %+v", err, f)
	}
	if err := json.Unmarshal([]byte(`{"severity":"bogus"}`), &f); err == nil {
		t.Error("unmarshal of a bogus severity succeeded")
	}
}

func TestFailOnTrips(t *testing.T) {
	findings := []Finding{{Severity: SeverityLow}, {Severity: SeverityMedium}}
	cases := []struct {
		flag string
		want bool
	}{
		{"none", false},
		{"", false},
		{"info", true},
		{"low", true},
		{"medium", true},
		{"high", false},
		{"critical", false},
	}
	for _, c := range cases {
		f, err := ParseFailOn(c.flag)
		if err != nil {
			t.Fatalf("ParseFailOn(%q): %v", c.flag, err)
		}
		if got := f.Trips(findings); got != c.want {
			t.Errorf("--fail-on %s: Trips = %v, want %v", c.flag, got, c.want)
		}
	}
	if (FailOn{Enabled: true}).Trips(nil) {
		t.Error("no findings tripped the threshold")
	}
	if _, err := ParseFailOn("sometimes"); err == nil {
		t.Error("ParseFailOn(sometimes) succeeded")
	}
}
