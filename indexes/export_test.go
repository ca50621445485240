package indexes

// Exported to the external tests of this directory (package indexes_test), which use the
// advisor to build workloads and so cannot live inside the package.
var (
	NameFor       = nameFor
	ImmutableExpr = immutableExpr
)

// WithoutHopelessBound runs f with the selection's bound on hopeless candidates off.
func WithoutHopelessBound(f func()) {
	boundHopeless = false
	defer func() { boundHopeless = true }()
	f()
}
