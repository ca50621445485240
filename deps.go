//go:build pgtune_pin

// This file is never compiled (nothing sets the pgtune_pin tag). It pins, in go.mod, chosen
// dependencies that no package imports yet, so their versions are decided once and reviewed like
// any other change: golang-migrate (pgx5 driver, iofs source) arrives with the index-migration
// commands. Remove each import here when real code imports the package.
package pgtune

import (
	_ "github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	_ "github.com/golang-migrate/migrate/v4/source/iofs"
)
