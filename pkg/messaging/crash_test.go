package messaging_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// Environment of the consumer helper process.
const (
	envHelper     = "CLINICOPS_CRASH_HELPER" // "consumer" runs the helper
	envHelperDSN  = "CLINICOPS_CRASH_DSN"
	envHelperNATS = "CLINICOPS_CRASH_NATS"
	envCrashAfter = "CLINICOPS_CRASH_AFTER" // SIGKILL self after this many commits
	helperAckWait = time.Second
	committedLine = "committed "
)

// TestHelperConsumerProcess is not a test: TestConsumerProcessKilledAfterCommit
// re-executes the test binary to run it as a separate consumer process. It
// runs the scheduling_patient_registered handler (applyEffect) and, after the
// CLINICOPS_CRASH_AFTER-th committed event, prints that event's id and kills
// itself with SIGKILL before the message is acked: no deferred code, no
// Close, no Nack runs, as in a real crash.
func TestHelperConsumerProcess(t *testing.T) {
	if os.Getenv(envHelper) != "consumer" {
		t.Skip("helper process for TestConsumerProcessKilledAfterCommit")
	}
	crashAfter, err := strconv.Atoi(os.Getenv(envCrashAfter))
	require.NoError(t, err)
	db, err := sqlx.Connect("postgres", os.Getenv(envHelperDSN))
	require.NoError(t, err)
	nc, err := nats.Connect(os.Getenv(envHelperNATS))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var (
		mu      sync.Mutex
		commits int
	)
	p, err := messaging.NewProcessor(messaging.ProcessorConfig{Service: "scheduling", DB: db, JS: js, Log: testharness.Logger(),
		AckWait: helperAckWait, Workers: 8,
		AfterCommit: func(_, eventID string) error {
			mu.Lock() // one line at a time, and nothing after the kill
			defer mu.Unlock()
			commits++
			_, _ = fmt.Fprintln(os.Stdout, committedLine+eventID)
			if commits == crashAfter {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way; never ack
			}
			return nil
		}})
	require.NoError(t, err)
	require.NoError(t, messaging.Handle(p, "patient_registered", applyEffect))
	require.NoError(t, p.Run(context.Background()))
}

// consumerProcess is the helper running as a child process.
type consumerProcess struct {
	cmd       *exec.Cmd
	mu        sync.Mutex
	committed []string // event ids, in the order the child reported their commits
	first     chan struct{}
	exited    chan struct{}
}

func startConsumerProcess(t *testing.T, dsn, natsURL string, crashAfter int) *consumerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperConsumerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=consumer", envHelperDSN+"="+dsn, envHelperNATS+"="+natsURL,
		envCrashAfter+"="+strconv.Itoa(crashAfter))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	cp := &consumerProcess{cmd: cmd, first: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(cp.exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			id, ok := strings.CutPrefix(sc.Text(), committedLine)
			if !ok {
				continue
			}
			cp.mu.Lock()
			cp.committed = append(cp.committed, id)
			if len(cp.committed) == 1 {
				close(cp.first)
			}
			cp.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-cp.exited
	})
	return cp
}

func (cp *consumerProcess) commits() []string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append([]string(nil), cp.committed...)
}

// TestConsumerProcessKilledAfterCommit runs a consumer in a separate process
// that commits its handler's transaction and then really dies (SIGKILL)
// before the ack, while a second replica in this process shares the durable
// consumer. The dead process's committed-but-unacked events come back after
// AckWait to the survivor, which must recognise them as processed: every
// event's effect exactly once, also after the consumer has been idle for
// several AckWaits.
func TestConsumerProcessKilledAfterCommit(t *testing.T) {
	t.Parallel()
	n := testharness.StartNATS(t, "intake")
	pdb, pdsn := testharness.DB(t, messaging.Migrations, appMigrations)
	cdb, cdsn := testharness.DB(t, messaging.Migrations, appMigrations)
	b := withWake(&bundle{nats: n, producer: pdb, producerDS: pdsn, consumer: cdb, outbox: messaging.NewOutbox("intake", nil)})
	const events, crashAfter = 300, 40
	ids := make([]string, events)
	for i := range ids {
		ids[i] = b.register(t, context.Background(), false)
	}
	b.relay(t, messaging.RelayConfig{})
	testharness.Eventually(t, 15*time.Second, func() bool { return count(t, pdb, `SELECT count(*) FROM outbox`) == 0 })

	child := startConsumerProcess(t, cdsn, n.Server.ClientURL(), crashAfter)
	select {
	case <-child.first:
	case <-child.exited:
		t.Fatal("the consumer process exited before committing anything")
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer process committed nothing in 30 s")
	}
	// The other replica joins while the first is working.
	b.processor(t, messaging.ProcessorConfig{AckWait: helperAckWait, Workers: 8}, applyEffect)

	select {
	case <-child.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer process did not kill itself")
	}
	ws, ok := child.cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "the consumer process did not die by SIGKILL: %v", child.cmd.ProcessState)
	commits := child.commits()
	require.Len(t, commits, crashAfter)
	crashed := commits[len(commits)-1] // committed, then killed before its ack

	done := func() bool {
		return count(t, cdb, `SELECT count(*) FROM effects`) == events &&
			consumerDone(t, b.nats.JS, "scheduling_patient_registered", events)
	}
	testharness.Eventually(t, 30*time.Second, done, "the surviving replica did not finish the work")
	patientOf := patientsByEventID(t, b.nats.JS, events)
	check := func() {
		t.Helper()
		require.Equal(t, events, count(t, cdb, `SELECT count(*) FROM effects WHERE applied = 1`), "every effect exactly once")
		require.Equal(t, events, count(t, cdb, `SELECT count(*) FROM processed_events`))
		require.Equal(t, 1, applied(t, cdb, patientOf[crashed]), "the event committed by the killed process was applied again")
		for _, id := range commits {
			require.Equal(t, 1, applied(t, cdb, patientOf[id]))
		}
	}
	check()
	// Idle for three AckWaits: a redelivery still to come would show now.
	idleUntil := time.Now().Add(3 * helperAckWait)
	testharness.Eventually(t, 15*time.Second, func() bool { return time.Now().After(idleUntil) && done() })
	check()
	info := consumerInfo(t, b.nats.JS, "scheduling_patient_registered")
	require.Zero(t, info.NumPending)
	require.Zero(t, info.NumAckPending)
	require.Zero(t, info.NumRedelivered)
}

func consumerInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, "INTAKE", name)
	require.NoError(t, err)
	info, err := c.Info(ctx)
	require.NoError(t, err)
	return info
}

// patientsByEventID maps each event id in the INTAKE stream to its
// aggregate (the patient).
func patientsByEventID(t *testing.T, js jetstream.JetStream, n int) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	out := map[string]string{}
	for seq := uint64(1); seq <= uint64(n); seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		out[m.Header.Get(messaging.HeaderID)] = m.Header.Get(messaging.HeaderSubject)
	}
	require.Len(t, out, n)
	return out
}
