// Package model holds pgtune's plain data types: what every analyser produces (Finding) and how
// serious it is (Severity). It imports nothing but the standard library, so every other package
// can depend on it without paying for a database driver or the SQL parser.
package model
