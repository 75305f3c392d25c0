package adapters_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	a, c := uuid.New(), uuid.New()
	require.NoError(t, b.audit.Record(ctx, now, "front_desk", "tok-1", "patient.search", "req-1", a, c))
	require.NoError(t, b.audit.Record(ctx, now, "clinician", "tok-2", "patient.read", "req-2", a))
	require.NoError(t, b.audit.Record(ctx, now, "clinician", "tok-2", "patient.search", "req-3"))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM audit_log`), "one entry per patient read, none for no patient")

	all, err := b.audit.List(ctx, a, 0, 10)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "patient.search", all[0].Action)
	require.Equal(t, "tok-1", all[0].ActorToken)
	require.Equal(t, "front_desk", all[0].ActorRole)
	require.Equal(t, "req-1", all[0].RequestID)
	require.Equal(t, a, all[0].PatientID)
	require.True(t, now.Equal(all[0].At))
	require.Equal(t, "patient.read", all[1].Action)

	page, err := b.audit.List(ctx, a, 0, 1)
	require.NoError(t, err)
	require.Equal(t, all[:1], page)
	page, err = b.audit.List(ctx, a, page[0].ID, 10)
	require.NoError(t, err)
	require.Equal(t, all[1:], page, "after the cursor")

	other, err := b.audit.List(ctx, c, 0, 10)
	require.NoError(t, err)
	require.Len(t, other, 1)
	none, err := b.audit.List(ctx, uuid.New(), 0, 10)
	require.NoError(t, err)
	require.Empty(t, none)
}
