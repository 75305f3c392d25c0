package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clinicops/clinicops/cmd/clinicops/internal/billingexport"
	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	billing "github.com/clinicops/clinicops/services/billing/service"
)

// TestBillingExportReplaysToTheSameJournal: billing's real money flows
// (courses invoiced, deposits paid over HTTP, a culture and an infusion
// recognised, a course cancelled under the policy) go through the BILLING
// stream into `clinicops billing-export`, run as its own process:
//   - the journal holds every stored posting once, each balanced;
//   - an export killed with SIGKILL at random points and restarted ends
//     with the same journal, byte for byte, as one uninterrupted run;
//   - a durable consumer lost (deleted) and recreated on a full journal
//     writes nothing twice;
//   - replaying the whole stream into an empty journal with a new durable
//     gives the same journal.
func TestBillingExportReplaysToTheSameJournal(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, billing.Service)
	require.NoError(t, billing.Service.Seed(context.Background(), s.Runtime))
	for i := range 8 {
		moneyFlow(t, s, i)
	}
	for _, c := range []string{"billing_course_planned", "billing_culture_started", "billing_appointment_completed", "billing_course_cancelled"} {
		s.WaitConsumed(t, "SCHEDULING", c)
	}
	testharness.Eventually(t, 15*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM outbox`) == 0 }, "outbox drained")
	postings := s.Count(t, `SELECT count(*) FROM postings`)
	require.Greater(t, postings, 60)

	work := t.TempDir()
	bin := filepath.Join(work, "clinicops")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	url := s.NATS.Server.ClientURL()
	export := func(durable, journal string) string {
		t.Helper()
		out, err := exec.Command(bin, "billing-export", "-once", "-nats", url, "-durable", durable, "-out", journal, "-ack-wait", "1s").CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}

	first := filepath.Join(work, "first.csv")
	export("first", first)
	want := readJournal(t, first)
	requireJournalOfPostings(t, s, want, postings)

	// Killed at random points, restarted, finished: the same bytes.
	crashed := filepath.Join(work, "crashed.csv")
	midway := 0
	for _, share := range []int{15, 40, 65, 90} {
		cmd := exec.Command(bin, "billing-export", "-nats", url, "-durable", "crashed", "-out", crashed, "-ack-wait", "1s")
		require.NoError(t, cmd.Start())
		// SIGKILL (no deferred close, no last ack) once the journal holds
		// about share % of the bytes it will have.
		target := int64(len(want) * share / 100)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			if fi, err := os.Stat(crashed); err == nil && fi.Size() >= target {
				break
			}
		}
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		n := journalPostings(t, crashed)
		t.Logf("killed at %d%%: %d of %d postings written", share, n, postings)
		if n < postings {
			midway++
		}
	}
	require.GreaterOrEqual(t, midway, 2, "kills landed in the middle of the export")
	export("crashed", crashed)
	require.Equal(t, want, readJournal(t, crashed), "a journal written across crashes is the uninterrupted one")

	// The consumer's position lost: the journal still writes nothing twice.
	require.NoError(t, s.NATS.JS.DeleteConsumer(context.Background(), billingexport.Stream, "first"))
	require.Contains(t, export("first", first), fmt.Sprintf("0 written, %d already there", postings))
	require.Equal(t, want, readJournal(t, first))

	requireCloudEventsSDKReadsPostings(t, s)

	// A replay of the whole stream into an empty journal.
	replay := filepath.Join(work, "replay.csv")
	export("replay", replay)
	require.Equal(t, want, readJournal(t, replay))
}

// moneyFlow is one patient's course through billing: registered, planned
// (six invoices), the deposit and more paid at the desk; every third course
// has its culture started and an infusion given, every fourth is cancelled
// after its deposit (refund, credit notes under the policy).
func moneyFlow(t *testing.T, s *testharness.Service, i int) {
	t.Helper()
	patient, course := uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", patient, &intakev1.PatientRegistered{PatientId: patient, Version: 1, OccurredAt: timestamppb.Now()})
	s.WaitConsumed(t, "INTAKE", "billing_patient_registered")
	var cycles []*schedulingv1.PlannedCycle
	for c, ph := range []string{"initial", "initial", "initial", "consolidation", "consolidation", "maintenance"} {
		cycles = append(cycles, &schedulingv1.PlannedCycle{Cycle: int32(c + 1), Phase: ph, //nolint:gosec // six
			TargetDate: time.Now().AddDate(0, c, 14).Format(time.DateOnly), Status: "planned"})
	}
	s.Publish(t, "scheduling", course, &schedulingv1.CoursePlanned{CourseId: course, Version: 1, OccurredAt: timestamppb.Now(),
		PatientId: patient, Program: "nk-autologous", ProtocolVersion: "NK-AUTO-2026.1", Cycles: cycles})
	s.WaitConsumed(t, "SCHEDULING", "billing_course_planned")
	for k, fen := range []int64{1_200_000, 500_000 + int64(i)*1000} {
		r := s.Do(t, httpx.RoleBilling, http.MethodPost, "/v1/payments", map[string]any{
			"patient_id": patient, "amount": map[string]any{"value": fen, "currency": "CNY"}, "method": "card",
			"external_reference": fmt.Sprintf("POS-%s-%d", patient[:8], k), "received_at": time.Now().UTC().Format(time.RFC3339)},
			"Idempotency-Key", uuid.NewString())
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	}
	if i%3 == 0 {
		din := fmt.Sprintf("G1234260%05dY", i)
		s.Publish(t, "scheduling", din, &schedulingv1.CultureStarted{ProductId: din, Version: 2, OccurredAt: timestamppb.Now(),
			Product: &schedulingv1.Product{ProductId: din, PatientId: patient, CourseId: course, Cycle: 1, Program: "nk-autologous", Source: "autologous"}})
		id := uuid.NewString()
		s.Publish(t, "scheduling", id, &schedulingv1.AppointmentCompleted{AppointmentId: id, Version: 3, OccurredAt: timestamppb.Now(),
			Appointment: &schedulingv1.Appointment{AppointmentId: id, CourseId: course, Cycle: 1, PatientId: patient, Kind: "infusion"}})
	}
	if i%4 == 1 {
		s.Publish(t, "scheduling", course, &schedulingv1.CourseCancelled{CourseId: course, Version: 5, OccurredAt: timestamppb.Now(),
			PatientId: patient, Reason: "patient_request"})
	}
}

func readJournal(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// journalPostings counts the complete postings in a journal (0 when it
// does not exist yet).
func journalPostings(t *testing.T, path string) int {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return 0
	}
	j, err := billingexport.OpenJournal(path)
	require.NoError(t, err)
	defer func() { _ = j.Close() }()
	return j.Postings()
}

// requireJournalOfPostings: the journal has a row per line of every
// stored posting, each posting once and balanced.
func requireJournalOfPostings(t *testing.T, s *testharness.Service, journal []byte, postings int) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(journal)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, billingexport.Columns, rows[0])
	lines := s.Count(t, `SELECT sum(jsonb_array_length(lines))::int FROM postings`)
	require.Len(t, rows[1:], lines, "one row per posting line")
	balance := map[string]*big.Rat{}
	for _, r := range rows[1:] {
		if balance[r[3]] == nil {
			balance[r[3]] = new(big.Rat)
		}
		for sign, v := range map[int64]string{1: r[8], -1: r[9]} {
			if v != "" {
				x, ok := new(big.Rat).SetString(v)
				require.True(t, ok, v)
				balance[r[3]].Add(balance[r[3]], x.Mul(x, big.NewRat(sign, 1)))
			}
		}
	}
	require.Len(t, balance, postings, "each stored posting once")
	for id, b := range balance {
		require.Zero(t, b.Sign(), "posting %s balances", id)
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM postings WHERE id = $1`, id))
	}
}

// requireCloudEventsSDKReadsPostings: the CloudEvents Go SDK, with its
// JetStream protocol, takes billing's LedgerPosted as valid binary-mode
// events, as a finance team's consumer would: type, source, the posting as
// subject, protobuf content, and a body that decodes to the posting.
func requireCloudEventsSDKReadsPostings(t *testing.T, s *testharness.Service) {
	t.Helper()
	nc := testharness.Connect(t, s.NATS.Server.ClientURL())
	consumer, err := cejs.NewConsumerFromConn(nc, billingexport.Stream, billingexport.Subject, nil, nil)
	require.NoError(t, err)
	client, err := cloudevents.NewClient(consumer)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan cloudevents.Event, 5)
	stopped := make(chan error, 1)
	go func() {
		stopped <- client.StartReceiver(ctx, func(ev cloudevents.Event) {
			select {
			case got <- ev:
			default:
			}
		})
	}()
	for range 5 {
		var ev cloudevents.Event
		select {
		case ev = <-got:
		case <-ctx.Done():
			require.FailNow(t, "the SDK delivered no valid billing event (it drops those it cannot read)")
		}
		require.NoError(t, ev.Validate())
		require.Equal(t, billingexport.Subject, ev.Type())
		require.Equal(t, "/clinicops/billing", ev.Source())
		require.Equal(t, "application/protobuf", ev.DataContentType())
		var body billingv1.LedgerPosted
		require.NoError(t, proto.Unmarshal(ev.Data(), &body))
		require.Equal(t, body.GetPostingId(), ev.Subject())
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM postings WHERE id = $1 AND kind = $2`, ev.Subject(), body.GetKind()))
	}
	cancel()
	require.NoError(t, <-stopped)
}
