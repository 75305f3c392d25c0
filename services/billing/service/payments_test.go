package service_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/api/client"
	"github.com/clinicops/clinicops/services/billing/service"
)

// TestConcurrentRetriesOfAPaymentRecordItOnce: twenty retries of one
// payment (the same Idempotency-Key and body) sent at once over HTTP record
// one payment and publish one PaymentRecorded. The key is claimed first in
// the payment's own transaction (idempotency.WrapTx), so the others wait on
// it and then replay the first answer: every caller gets the same 201, byte
// for byte, and only the first is not marked replayed. Then the same
// external reference under another key is a 409 naming the reference, and
// the same key with another body a 422 naming the key; neither records
// anything.
func TestConcurrentRetriesOfAPaymentRecordItOnce(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	patient, _ := plannedCourse(t, s)
	c, as := billingClient(t, s)
	ctx, cashier := t.Context(), as(httpx.RoleBilling)

	ref := "BANK-" + uuid.NewString()[:8]
	pay := client.PaymentCreate{PatientId: patient, Amount: cny(1_200_000), Method: client.PaymentCreateMethodTransfer,
		ExternalReference: ref, ReceivedAt: time.Now().UTC().Truncate(time.Second)}
	key := client.RecordPaymentParams{IdempotencyKey: "pay-" + uuid.NewString()}
	const n = 20
	answers := make([]*client.RecordPaymentResponse, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i], errs[i] = c.RecordPaymentWithResponse(ctx, &key, pay, cashier)
		})
	}
	close(start)
	wg.Wait()

	var first *client.RecordPaymentResponse
	fresh := 0
	for i, a := range answers {
		require.NoError(t, errs[i])
		require.Equal(t, http.StatusCreated, a.StatusCode(), "retry %d: %s", i, a.Body)
		if first == nil {
			first = a
		}
		require.Equal(t, first.JSON201.Id, a.JSON201.Id, "retry %d got another payment", i)
		require.Equal(t, string(first.Body), string(a.Body), "retry %d: every caller gets the stored answer", i)
		if a.Headers201.IdempotentReplayed == nil {
			fresh++
		}
	}
	require.Equal(t, 1, fresh, "one request recorded the payment; the others replayed it")
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM payments WHERE external_reference = $1`, ref))
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM payments WHERE id = $1`, first.JSON201.Id))
	require.Equal(t, 1, billingEvents(t, s, &billingv1.PaymentRecorded{}), "one PaymentRecorded")
	require.Equal(t, 1, billingEvents(t, s, &billingv1.DepositPaid{}), "the deposit (oldest due) paid once")

	// The same reference under another key: the bank's transfer is recorded already.
	dup, err := c.RecordPaymentWithResponse(ctx, &client.RecordPaymentParams{IdempotencyKey: "pay-" + uuid.NewString()}, pay, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, dup.StatusCode(), string(dup.Body))
	conflict := dup.ApplicationproblemJSON409
	require.EqualValues(t, http.StatusConflict, conflict.Status)
	require.NotNil(t, conflict.Detail)
	require.Contains(t, *conflict.Detail, "external reference")
	require.NotNil(t, conflict.Errors, "the problem names the field at fault: %s", dup.Body)
	require.Equal(t, []client.FieldError{{Field: "external_reference", Message: "is recorded already"}}, *conflict.Errors)
	require.NotContains(t, string(dup.Body), ref, "the reference's value is not echoed")

	// The same key with another body: refused, whatever the body asks.
	other := pay
	other.Amount, other.ExternalReference = cny(800_000), "BANK-OTHER"
	reused, err := c.RecordPaymentWithResponse(ctx, &key, other, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, reused.StatusCode(), string(reused.Body))
	vp := reused.ApplicationproblemJSON422
	require.Equal(t, []client.FieldError{{Field: "Idempotency-Key", Message: "was already used with another body"}}, *vp.Errors)
	require.True(t, strings.Contains(*vp.Detail, "different request"), *vp.Detail)

	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM payments WHERE patient_id = $1`, patient), "nothing more recorded")
	require.Equal(t, 1, billingEvents(t, s, &billingv1.PaymentRecorded{}))
	acct, err := c.GetAccountWithResponse(ctx, patient, nil, cashier)
	require.NoError(t, err)
	require.Equal(t, cny(1_200_000), acct.JSON200.Balance.PaidIn, "the ledger took the money in once")
	check, err := c.CheckLedgerWithResponse(ctx, nil, as(httpx.RoleAdmin))
	require.NoError(t, err)
	require.True(t, check.JSON200.Ok, "%+v", check.JSON200.Violations)
}
