// Package migrations embeds followup's database migrations.
package migrations

import (
	"embed"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

//go:embed *.sql
var files embed.FS

// Source is followup's migration source.
var Source = pgdb.MigrationSource{Name: "followup", FS: files, Dir: "."}
