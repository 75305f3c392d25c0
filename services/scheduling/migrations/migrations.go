// Package migrations embeds scheduling's database migrations.
package migrations

import (
	"embed"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

//go:embed *.sql
var files embed.FS

// Source is scheduling's migration source.
var Source = pgdb.MigrationSource{Name: "scheduling", FS: files, Dir: "."}
