// Package migrations embeds billing's database migrations.
package migrations

import (
	"embed"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

//go:embed *.sql
var files embed.FS

// Source is billing's migration source.
var Source = pgdb.MigrationSource{Name: "billing", FS: files, Dir: "."}
