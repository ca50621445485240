package finding

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
	b, err := json.Marshal(Finding{Rule: "r", Kind: KindIndex, Severity: SeverityHigh, Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rule":"r","kind":"index","severity":"high","title":"t","impact":0}`; string(b) != want {
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

// Evidence is an ordered list that JSON renders as an object, keeping the order both ways.
func TestEvidenceJSONKeepsOrder(t *testing.T) {
	ev := Facts("z_first", 1, "a_second", "two", "m_third", 2.5, "flag", true)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"z_first":1,"a_second":"two","m_third":2.5,"flag":true}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back Evidence
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.String() != "z_first: 1\na_second: two\nm_third: 2.5\nflag: true" {
		t.Errorf("round trip: %q", back.String())
	}
	if err := json.Unmarshal([]byte(`[1,2]`), &back); err == nil {
		t.Error("an array decoded as evidence")
	}
	if v, ok := back.Get("a_second"); !ok || v != "two" {
		t.Errorf("Get = %v, %v", v, ok)
	}
}

func TestSeverityForShare(t *testing.T) {
	cases := []struct {
		share float64
		want  Severity
	}{{0.5, SeverityHigh}, {0.10, SeverityHigh}, {0.05, SeverityMedium}, {0.02, SeverityMedium}, {0.01, SeverityLow}, {0.002, SeverityLow}, {0.001, SeverityInfo}, {0, SeverityInfo}}
	for _, c := range cases {
		if got := SeverityForShare(c.share); got != c.want {
			t.Errorf("SeverityForShare(%v) = %v, want %v", c.share, got, c.want)
		}
	}
}
