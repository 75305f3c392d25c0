package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
)

func TestDLQListAndReplay(t *testing.T) {
	t.Parallel()
	n := testharness.StartNATS(t, "intake")
	ctx := context.Background()
	eventID := uuid.NewString()
	dl := nats.NewMsg(messaging.DLQSubjectPrefix + "scheduling_patient_registered")
	dl.Data = []byte("secret body")
	dl.Header.Set(messaging.HeaderID, eventID)
	dl.Header.Set(messaging.HeaderType, "clinicops.intake.v1.PatientRegistered")
	dl.Header.Set(messaging.HeaderDLQConsumer, "scheduling_patient_registered")
	dl.Header.Set(messaging.HeaderDLQOriginalSubject, "clinicops.intake.v1.PatientRegistered")
	dl.Header.Set(messaging.HeaderDLQAttempts, "5")
	dl.Header.Set(messaging.HeaderDLQError, "downstream rule broken")
	_, err := n.JS.PublishMsg(ctx, dl)
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, runDLQ(ctx, []string{"list", "-nats", n.Server.ClientURL()}, &out))
	require.Contains(t, out.String(), eventID)
	require.Contains(t, out.String(), "downstream rule broken")
	require.NotContains(t, out.String(), "secret body", "bodies hold patient data and are never printed")

	require.Error(t, runDLQ(ctx, []string{"replay", "-nats", n.Server.ClientURL()}, &out), "replay needs -seq or -all")
	out.Reset()
	require.NoError(t, runDLQ(ctx, []string{"replay", "-all", "-nats", n.Server.ClientURL()}, &out))
	require.Contains(t, out.String(), "replayed 1")

	intake, err := n.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	m, err := intake.GetMsg(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, eventID, m.Header.Get(messaging.HeaderID), "same event id: consumers that processed it skip it")
	require.Empty(t, m.Header.Get(messaging.HeaderDLQError), "dead-letter headers are dropped")
	require.Equal(t, []byte("secret body"), m.Data)
	dlq, err := n.JS.Stream(ctx, messaging.DLQStream)
	require.NoError(t, err)
	require.Zero(t, dlq.CachedInfo().State.Msgs, "replayed letters leave the DLQ")
}
