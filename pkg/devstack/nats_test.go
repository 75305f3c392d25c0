package devstack

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

func startTestNATS(t *testing.T, opts NATSOptions) *NATS {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ns, err := StartNATS(opts)
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	return ns
}

func TestNATSRestartKeepsStream(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := startTestNATS(t, NATSOptions{StoreDir: filepath.Join(t.TempDir(), "js")})
	url := ns.ClientURL()

	var reconnected = make(chan struct{}, 1)
	nc, err := nats.Connect(url,
		nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }),
	)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)

	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "INTAKE",
		Subjects: []string{"clinicops.intake.v1.>"},
		Storage:  jetstream.FileStorage,
	})
	require.NoError(t, err)
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "billing_on_patient_registered", AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)

	publish := func(i int) {
		_, err := js.Publish(ctx, "clinicops.intake.v1.PatientRegistered", []byte(strconv.Itoa(i)), jetstream.WithMsgID(fmt.Sprint("evt-", i)))
		require.NoError(t, err)
	}
	for i := 1; i <= 3; i++ {
		publish(i)
	}
	// Consume and ack one message before the restart.
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	for m := range batch.Messages() {
		require.Equal(t, "1", string(m.Data()))
		require.NoError(t, m.DoubleAck(ctx))
	}

	oldServer := ns.Server()
	require.NoError(t, ns.Restart())
	require.Equal(t, url, ns.ClientURL(), "same port")
	require.NotSame(t, oldServer, ns.Server())
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("client did not reconnect")
	}

	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(3), info.State.Msgs, "stream data survives the restart")

	publish(4)
	publish(3) // a retried publish inside the duplicate window is dropped
	info, err = stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(4), info.State.Msgs)

	// The durable consumer survives and resumes after the acked message.
	var got []string
	batch, err = cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	for m := range batch.Messages() {
		got = append(got, string(m.Data()))
		require.NoError(t, m.Ack())
	}
	require.NoError(t, batch.Error())
	require.Equal(t, []string{"2", "3", "4"}, got)
}

func TestNATSTemporaryStore(t *testing.T) {
	t.Parallel()
	ns := startTestNATS(t, NATSOptions{HTTPPort: -1})
	store := ns.StoreDir()
	require.DirExists(t, store)
	require.NotNil(t, ns.Server().MonitorAddr(), "monitoring enabled")

	nc, err := nats.Connect(ns.ClientURL(), nats.InProcessServer(ns.Server()))
	require.NoError(t, err)
	require.NoError(t, nc.Publish("x", nil))
	require.NoError(t, nc.Flush())
	nc.Close()

	ns.Shutdown()
	ns.Shutdown()
	require.NoDirExists(t, store)
	require.Error(t, ns.Restart())
}

func TestNATSPortTaken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	_, err = StartNATS(NATSOptions{Port: port, Logger: testLogger(t)})
	require.ErrorIs(t, err, errPortInUse)
	require.ErrorContains(t, err, fmt.Sprintf("port %d", port))
}
