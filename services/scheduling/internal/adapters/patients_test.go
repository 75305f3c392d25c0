package adapters_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/internal/adapters"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
	"github.com/clinicops/clinicops/services/scheduling/migrations"
)

func TestMain(m *testing.M) { testharness.Main(m) }

var t0 = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func ref(id uuid.UUID, family string, version int64) patientref.Patient {
	return patientref.Patient{ID: id, FamilyName: family, GivenName: "小明",
		BirthDate: time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), Version: version, UpdatedAt: t0.Add(time.Duration(version) * time.Hour)}
}

// save stores p through the repositories an event handler gets.
func save(t *testing.T, db *sqlx.DB, p patientref.Patient) {
	t.Helper()
	require.NoError(t, pgdb.InTx(context.Background(), db, nil, func(tx *sqlx.Tx) error {
		return (&adapters.Store{DB: db}).Tx(tx).Patients().Save(context.Background(), p)
	}))
}

func TestPatients(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	tests := []struct {
		name  string
		saved []patientref.Patient
		want  patientref.Patient
	}{
		{"first version", []patientref.Patient{ref(id, "王", 1)}, ref(id, "王", 1)},
		{"newer version", []patientref.Patient{ref(id, "王", 1), ref(id, "汪", 2)}, ref(id, "汪", 2)},
		{"stale version ignored", []patientref.Patient{ref(id, "汪", 3), ref(id, "王", 2)}, ref(id, "汪", 3)},
		{"repeated version ignored", []patientref.Patient{ref(id, "王", 2), ref(id, "汪", 2)}, ref(id, "王", 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
			for _, p := range tc.saved {
				save(t, db, p)
			}
			got, err := adapters.Patients{DB: db}.Get(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPatientsNotFoundAndRollback(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	_, err := adapters.Patients{DB: db}.Get(ctx, uuid.New())
	require.ErrorIs(t, err, patientref.ErrNotFound)

	// What a handler saves rolls back with its transaction.
	id := uuid.New()
	boom := errors.New("handler failed after saving")
	err = pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		if err := (&adapters.Store{DB: db}).Tx(tx).Patients().Save(ctx, ref(id, "王", 1)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = adapters.Patients{DB: db}.Get(ctx, id)
	require.ErrorIs(t, err, patientref.ErrNotFound)
}

func patientrefOf(id uuid.UUID, birth time.Time) patientref.Patient {
	return patientref.Patient{ID: id, FamilyName: "李", GivenName: "雷", BirthDate: birth, Version: 1, UpdatedAt: t0}
}
