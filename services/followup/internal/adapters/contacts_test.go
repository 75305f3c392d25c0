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
	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
	"github.com/clinicops/clinicops/services/followup/migrations"
)

func TestMain(m *testing.M) { testharness.Main(m) }

var t0 = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func inTx(t *testing.T, db *sqlx.DB, fn func(w app.ContactWriter) error) {
	t.Helper()
	require.NoError(t, pgdb.InTx(context.Background(), db, nil, func(tx *sqlx.Tx) error {
		return fn(adapters.TxRepositories(tx).Contacts())
	}))
}

func details(id uuid.UUID, phone string, version int64) contact.Contact {
	return contact.Contact{PatientID: id, Phone: phone, Email: "xm@example.cn", PreferredLanguage: "zh-CN",
		Version: version, UpdatedAt: t0.Add(time.Duration(version) * time.Hour)}
}

func TestContacts(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	tests := []struct {
		name  string
		saved []contact.Contact
		want  contact.Contact
	}{
		{"first version", []contact.Contact{details(id, "+8613800138000", 1)}, details(id, "+8613800138000", 1)},
		{"newer version", []contact.Contact{details(id, "+8613800138000", 1), details(id, "+8613800138001", 2)},
			details(id, "+8613800138001", 2)},
		{"stale version ignored", []contact.Contact{details(id, "+8613800138003", 3), details(id, "+8613800138002", 2)},
			details(id, "+8613800138003", 3)},
		{"repeated version ignored", []contact.Contact{details(id, "+8613800138002", 2), details(id, "+8613800138009", 2)},
			details(id, "+8613800138002", 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
			for _, c := range tc.saved {
				inTx(t, db, func(w app.ContactWriter) error { return w.Save(context.Background(), c) })
			}
			got, err := adapters.Contacts{DB: db}.Get(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestChannelConsents(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	id, sms, email := uuid.New(), uuid.New(), uuid.New()
	inTx(t, db, func(w app.ContactWriter) error { return w.Save(ctx, details(id, "+8613800138000", 1)) })
	consent := func(consentID uuid.UUID, ch contact.Channel, active bool, version int64) {
		inTx(t, db, func(w app.ContactWriter) error {
			return w.SaveChannelConsent(ctx, contact.ChannelConsent{ConsentID: consentID, PatientID: id, Channel: ch,
				Active: active, Version: version, UpdatedAt: t0.Add(time.Duration(version) * time.Hour)})
		})
	}
	get := func() contact.Contact {
		c, err := adapters.Contacts{DB: db}.Get(ctx, id)
		require.NoError(t, err)
		return c
	}
	consent(sms, contact.ChannelSMS, true, 1)
	consent(email, contact.ChannelEmail, true, 1)
	require.True(t, get().SMSConsent)
	require.True(t, get().EmailConsent)

	consent(sms, contact.ChannelSMS, false, 2)
	require.False(t, get().SMSConsent, "withdrawn")
	consent(sms, contact.ChannelSMS, true, 1)
	require.False(t, get().SMSConsent, "a stale ConsentRecorded does not undo the withdrawal")
	require.True(t, get().EmailConsent)
}

func TestContactsNotFoundAndRollback(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	_, err := adapters.Contacts{DB: db}.Get(ctx, uuid.New())
	require.ErrorIs(t, err, contact.ErrNotFound)

	id := uuid.New()
	boom := errors.New("handler failed after saving")
	err = pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		if err := adapters.TxRepositories(tx).Contacts().Save(ctx, details(id, "+8613800138000", 1)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = adapters.Contacts{DB: db}.Get(ctx, id)
	require.ErrorIs(t, err, contact.ErrNotFound, "rolled back with the handler's transaction")
}
