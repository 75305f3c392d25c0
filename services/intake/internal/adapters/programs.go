package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/seed"
)

// Programs stores the clinic's programs (app.Programs).
type Programs struct{ DB *sqlx.DB }

var _ app.Programs = Programs{}

type programRow struct {
	Code            string `db:"code"`
	Name            string `db:"name"`
	ProtocolVersion string `db:"protocol_version"`
	Screening       []byte `db:"screening"`
}

const (
	selectPrograms = `SELECT code, name, protocol_version, screening FROM programs WHERE active ORDER BY code`
	selectProgram  = `SELECT code, name, protocol_version, screening FROM programs WHERE active AND code = $1`
	// insertProgram adds a program the clinic does not have; it never
	// overwrites the clinic's edits.
	insertProgram = `INSERT INTO programs (code, name, protocol_version, screening) VALUES ($1, $2, $3, $4)
		ON CONFLICT (code) DO NOTHING`
)

func toDomainProgram(r programRow) (program.Program, error) {
	var s seed.ScreeningJSON
	if err := json.Unmarshal(r.Screening, &s); err != nil {
		return program.Program{}, fmt.Errorf("program %s screening: %w", r.Code, err)
	}
	return seed.ProgramJSON{Code: r.Code, Name: r.Name, ProtocolVersion: r.ProtocolVersion, Screening: s}.ToDomain()
}

// List returns the active programs.
func (r Programs) List(ctx context.Context) ([]program.Program, error) {
	var rows []programRow
	if err := r.DB.SelectContext(ctx, &rows, selectPrograms); err != nil {
		return nil, fmt.Errorf("list programs: %w", err)
	}
	out := make([]program.Program, 0, len(rows))
	for _, row := range rows {
		p, err := toDomainProgram(row)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Get returns an active program or program.ErrNotFound.
func (r Programs) Get(ctx context.Context, code string) (program.Program, error) {
	var row programRow
	if err := r.DB.GetContext(ctx, &row, selectProgram, code); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return program.Program{}, program.ErrNotFound
		}
		return program.Program{}, fmt.Errorf("get program: %w", err)
	}
	return toDomainProgram(row)
}

// Seed adds the given programs where missing.
func (r Programs) Seed(ctx context.Context, programs []program.Program) error {
	for _, p := range programs {
		j := seed.FromDomain(p)
		screening, err := json.Marshal(j.Screening)
		if err != nil {
			return err
		}
		if _, err := r.DB.ExecContext(ctx, insertProgram, p.Code, p.Name, p.ProtocolVersion, screening); err != nil {
			return fmt.Errorf("seed program %s: %w", p.Code, err)
		}
	}
	return nil
}
