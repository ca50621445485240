package indexes_test

import (
	"testing"

	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/indexes"
)

// The cost evidence the HTML report draws is read back by the package that writes it.
func TestCostFactRoundTrip(t *testing.T) {
	fp, before, after, ok := indexes.ParseCostFact(indexes.CostFact("56cdac8dc1ad71b7", 11421.24, 18.36))
	if !ok || fp != "56cdac8dc1ad71b7" || before != 11421.2 || after != 18.4 {
		t.Errorf("round trip: %q %v %v %v", fp, before, after, ok)
	}
	for _, f := range []finding.Fact{{Name: "size_bytes", Value: int64(3)}, {Name: "cost x", Value: 3.0}, {Name: "cost x", Value: "garbage"}} {
		if _, _, _, ok := indexes.ParseCostFact(f); ok {
			t.Errorf("%+v read as a cost", f)
		}
	}
}
