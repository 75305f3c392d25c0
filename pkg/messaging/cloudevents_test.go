package messaging_test

import (
	"context"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/correlation"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// TestCloudEventsSDKReadsOurEvents publishes an event through the Outbox and
// the Relay and receives it with the CloudEvents Go SDK's JetStream
// protocol, as an external consumer would: the SDK takes it as a binary-mode
// event, its client validates it before delivery, and every attribute and
// both extensions are what we meant.
func TestCloudEventsSDKReadsOurEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := correlation.With(context.Background(), "corr-ce", "req-ce")
	before := time.Now()
	id := b.register(t, ctx, false)
	b.relay(t, messaging.RelayConfig{})

	const subject = "clinicops.intake.v1.PatientRegistered"
	nc := testharness.Connect(t, b.nats.Server.ClientURL())
	consumer, err := cejs.NewConsumerFromConn(nc, "INTAKE", subject, nil, nil)
	require.NoError(t, err)
	client, err := cloudevents.NewClient(consumer)
	require.NoError(t, err)
	got := make(chan cloudevents.Event, 1)
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() {
		stopped <- client.StartReceiver(rctx, func(ev cloudevents.Event) {
			select {
			case got <- ev:
			default:
			}
		})
	}()
	var ev cloudevents.Event
	select {
	case ev = <-got:
	case err := <-stopped:
		require.FailNow(t, "receiver stopped before an event arrived", "%v", err)
	case <-rctx.Done():
		require.FailNow(t, "the SDK delivered no valid event (it drops events it cannot read or validate)")
	}
	cancel()
	require.NoError(t, <-stopped)

	require.NoError(t, ev.Validate())
	require.Equal(t, cloudevents.VersionV1, ev.SpecVersion())
	evID, err := uuid.Parse(ev.ID())
	require.NoError(t, err)
	require.Equal(t, uuid.Version(7), evID.Version())
	require.Equal(t, subject, ev.Type())
	require.Equal(t, "/clinicops/intake", ev.Source())
	require.Equal(t, id, ev.Subject())
	require.WithinDuration(t, before, ev.Time(), time.Minute)
	require.False(t, ev.Time().Before(before.Truncate(time.Microsecond)), "time is the event's, not the SDK's default")
	require.Equal(t, "application/protobuf", ev.DataContentType())
	require.Empty(t, ev.DataSchema())
	require.Equal(t, map[string]any{"correlationid": "corr-ce", "causationid": "req-ce"}, ev.Extensions())

	var body intakev1.PatientRegistered
	require.NoError(t, proto.Unmarshal(ev.Data(), &body))
	require.Equal(t, id, body.GetPatientId())
}
