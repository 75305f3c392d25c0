package messaging_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// TestPublishManyKeepsEachAggregatesOrder: events of several aggregates
// and subjects written in one call land in the outbox in the order given
// (the relay publishes by outbox id, so that is the order consumers see),
// even where one subject recurs after another: a patient registered,
// updated, registered again by id of another patient, then updated.
func TestPublishManyKeepsEachAggregatesOrder(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations)
	ctx := context.Background()
	a, b := uuid.NewString(), uuid.NewString()
	events := []messaging.Keyed{
		{AggregateID: a, Event: &intakev1.PatientRegistered{PatientId: a, Version: 1}},
		{AggregateID: a, Event: &intakev1.PatientUpdated{PatientId: a, Version: 2}},
		{AggregateID: b, Event: &intakev1.PatientRegistered{PatientId: b, Version: 1}},
		{AggregateID: a, Event: &intakev1.PatientUpdated{PatientId: a, Version: 3}},
		{AggregateID: b, Event: &intakev1.PatientUpdated{PatientId: b, Version: 2}},
	}
	require.NoError(t, pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		return messaging.NewOutbox("intake", nil).PublishMany(ctx, tx, events)
	}))
	var rows []struct {
		Subject string `db:"subject"`
		Payload []byte `db:"payload"`
	}
	require.NoError(t, db.Select(&rows, `SELECT subject, payload FROM outbox ORDER BY id`))
	require.Len(t, rows, len(events))
	for i, want := range events {
		require.Equal(t, messaging.SubjectOf(want.Event), rows[i].Subject, "row %d", i)
		got := want.Event.ProtoReflect().New().Interface()
		require.NoError(t, proto.Unmarshal(rows[i].Payload, got))
		require.True(t, proto.Equal(want.Event, got), "row %d: %v, want %v", i, got, want.Event)
	}
}
