package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/intake/internal/adapters"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/migrations"
	"github.com/clinicops/clinicops/services/intake/seed"
)

func TestMain(m *testing.M) { testharness.Main(m) }

var now = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

// bundle is one test's fresh database and the repositories over it.
type bundle struct {
	db       *sqlx.DB
	patients *adapters.PatientRepository
	clinical *adapters.Clinical
	programs adapters.Programs
	audit    adapters.Audit
}

// setup gives each test its own migrated database with the demo programs.
func setup(t *testing.T) bundle {
	t.Helper()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	outbox := messaging.NewOutbox("intake", func() time.Time { return now })
	b := bundle{
		db: db, patients: adapters.NewPatientRepository(db, outbox), clinical: adapters.NewClinical(db, outbox),
		programs: adapters.Programs{DB: db}, audit: adapters.Audit{DB: db},
	}
	progs, err := seed.Programs()
	require.NoError(t, err)
	require.NoError(t, b.programs.Seed(context.Background(), progs))
	return b
}

// outboxRow is one event as the repository wrote it.
type outboxRow struct {
	Subject     string `db:"subject"`
	AggregateID string `db:"aggregate_id"`
	Payload     []byte `db:"payload"`
}

// outbox returns every event written so far, oldest first.
func (b bundle) outbox(t *testing.T) []outboxRow {
	t.Helper()
	var rows []outboxRow
	require.NoError(t, b.db.Select(&rows, `SELECT subject, headers->>'ce-subject' AS aggregate_id, payload FROM outbox ORDER BY id`))
	return rows
}

// requireEvent checks an outbox row's subject and aggregate id and decodes
// its payload into ev.
func requireEvent(t *testing.T, row outboxRow, aggregateID uuid.UUID, ev proto.Message) {
	t.Helper()
	require.Equal(t, messaging.SubjectOf(ev), row.Subject)
	require.Equal(t, aggregateID.String(), row.AggregateID, "ce-subject is the aggregate id")
	require.NoError(t, proto.Unmarshal(row.Payload, ev))
}

// count runs a counting query.
func (b bundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Get(&n, query, args...))
	return n
}

// details are a valid patient's.
func details(family, given string, phone string) patient.Details {
	return patient.Details{
		FamilyName: family, GivenName: given, BirthDate: time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC),
		Sex: patient.SexFemale, Phone: phone, PreferredLanguage: "zh-CN",
	}
}

// addPatient registers a patient.
func (b bundle) addPatient(t *testing.T, d patient.Details) *patient.Patient {
	t.Helper()
	p, err := patient.NewPatient(uuid.Must(uuid.NewV7()), d, now)
	require.NoError(t, err)
	require.NoError(t, b.patients.Add(context.Background(), p))
	return p
}

// waitForLockWait blocks until some session of the database waits on a lock.
func (b bundle) waitForLockWait(t *testing.T) {
	t.Helper()
	testharness.Eventually(t, 10*time.Second, func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
	}, "a second transaction waits for the row lock")
}
