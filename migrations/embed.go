// Package migrations holds clearmap's numbered SQL migrations, embedded so the
// binary can bring any database up to date without files beside it.
package migrations

import "embed"

// FS holds the migration files, applied in the order of their numeric prefix.
//
//go:embed *.sql
var FS embed.FS
