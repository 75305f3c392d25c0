// Package migrations embeds intake's database migrations.
package migrations

import (
	"embed"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

//go:embed *.sql
var files embed.FS

// Source is intake's migration source (applied after the platform's).
var Source = pgdb.MigrationSource{Name: "intake", FS: files, Dir: "."}
