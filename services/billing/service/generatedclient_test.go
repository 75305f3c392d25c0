package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/api/client"
	"github.com/clinicops/clinicops/services/billing/service"
)

// TestGeneratedClientDrivesBilling uses billing as a cashier, the front
// desk and an admin with only the document would: through a Go client
// generated from api/openapi.yaml by oapi-codegen. The front desk reads the
// account and the course's invoices; the cashier pays the deposit (keyed,
// replayed), is refused a keyless and a negative payment, refunds part of
// it and issues a credit note on the next instalment; the admin checks the
// ledger; everyone reads the prices. Every answer is read through the
// client's types, problems too.
func TestGeneratedClientDrivesBilling(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	patient, course := plannedCourse(t, s)
	c, as := billingClient(t, s)
	ctx := t.Context()
	desk, cashier, admin := as(httpx.RoleFrontDesk), as(httpx.RoleBilling), as(httpx.RoleAdmin)

	// ---- the front desk: the account and the course's invoices ----
	acct, err := c.GetAccountWithResponse(ctx, patient, nil, desk)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, acct.StatusCode(), string(acct.Body))
	require.Equal(t, patient, acct.JSON200.PatientId)
	require.Equal(t, "CNY", acct.JSON200.Currency)
	require.Equal(t, client.Money{Value: 5_200_000, Currency: "CNY"}, acct.JSON200.Balance.Owed, "the course is invoiced")
	require.Zero(t, acct.JSON200.Balance.PaidIn.Value)

	list, err := c.ListInvoicesWithResponse(ctx, &client.ListInvoicesParams{CourseId: &course}, desk)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, list.StatusCode(), string(list.Body))
	require.Len(t, list.JSON200.Items, 6, "the deposit and five instalments")
	deposit, instalment := list.JSON200.Items[0], list.JSON200.Items[1]
	require.Equal(t, client.Deposit, deposit.Kind)
	require.Equal(t, client.Instalment, instalment.Kind)

	inv, err := c.GetInvoiceWithResponse(ctx, deposit.Id, nil, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, inv.StatusCode(), string(inv.Body))
	dep := inv.JSON200
	number, err := dep.Number.Get()
	require.NoError(t, err, "an issued invoice has a number")
	require.Regexp(t, `^INV-\d{4}-\d{6}$`, number)
	require.Equal(t, client.InvoiceStatusIssued, dep.Status)
	cid, err := dep.CourseId.Get()
	require.NoError(t, err)
	require.Equal(t, course, cid)
	require.Len(t, dep.Lines, 1)
	require.Equal(t, "DEPOSIT", dep.Lines[0].Code)
	require.Equal(t, cny(1_200_000), dep.Total)
	require.Equal(t, cny(1_200_000), dep.AmountDue)
	due, err := dep.DueDate.Get()
	require.NoError(t, err, "an issued invoice is due on a day")
	require.False(t, due.Before(time.Now().AddDate(0, 0, -1)))

	// ---- the cashier: the deposit paid, once ----
	pay := client.PaymentCreate{PatientId: patient, Amount: cny(1_200_000), Method: client.PaymentCreateMethodCard,
		ExternalReference: "POS-" + uuid.NewString()[:8], ReceivedAt: time.Now().UTC().Truncate(time.Second),
		Allocations: &[]client.AllocationCreate{{InvoiceId: deposit.Id, Amount: cny(1_200_000)}}}
	key := client.RecordPaymentParams{IdempotencyKey: "pay-" + uuid.NewString()}
	paid, err := c.RecordPaymentWithResponse(ctx, &key, pay, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, paid.StatusCode(), string(paid.Body))
	require.Nil(t, paid.Headers201.IdempotentReplayed, "the first answer is no replay")
	p := paid.JSON201
	require.Equal(t, []client.Allocation{{InvoiceId: deposit.Id, Number: number, Amount: cny(1_200_000)}}, p.Allocations)
	require.Equal(t, cny(0), p.ToAccountCredit)
	again, err := c.RecordPaymentWithResponse(ctx, &key, pay, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, again.StatusCode(), string(again.Body))
	require.Equal(t, "true", *again.Headers201.IdempotentReplayed)
	require.Equal(t, p.Id, again.JSON201.Id, "a retry gets the first payment")

	keyless, err := c.RecordPaymentWithResponse(ctx, &client.RecordPaymentParams{}, pay, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, keyless.StatusCode(), string(keyless.Body))
	bad := keyless.ApplicationproblemJSON400
	require.EqualValues(t, http.StatusBadRequest, bad.Status)
	require.True(t, bad.Type.Valid() && bad.Title.Valid(), "the bad-request problem's own type and title: %s", keyless.Body)
	require.Equal(t, []client.FieldError{{Field: "Idempotency-Key", Message: "is required on every payment"}}, *bad.Errors)

	negative := pay
	negative.ExternalReference, negative.Amount, negative.Allocations = "POS-NEG", cny(-500), nil
	refused, err := c.RecordPaymentWithResponse(ctx, &client.RecordPaymentParams{IdempotencyKey: "pay-" + uuid.NewString()}, negative, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, refused.StatusCode(), string(refused.Body))
	vp := refused.ApplicationproblemJSON422
	require.EqualValues(t, http.StatusUnprocessableEntity, vp.Status)
	require.EqualValues(t, "https://clinicops.dev/problems/validation", vp.Type)
	require.NotEmpty(t, vp.Instance, "the request id, to quote")
	require.Equal(t, "amount.value", (*vp.Errors)[0].Field)

	inv, err = c.GetInvoiceWithResponse(ctx, deposit.Id, nil, desk)
	require.NoError(t, err)
	require.Equal(t, client.InvoiceStatusPaid, inv.JSON200.Status)
	require.Equal(t, cny(0), inv.JSON200.AmountDue)
	require.Equal(t, cny(1_200_000), inv.JSON200.Paid)
	var funded billingv1.DepositPaid
	lastEvent(t, s, &funded)
	require.Equal(t, course.String(), funded.GetCourseId(), "scheduling may start the culture")
	require.Equal(t, deposit.Id.String(), funded.GetInvoiceId())
	require.EqualValues(t, 1_200_000, funded.GetAmount().GetValue())
	var settled billingv1.InvoicePaid
	lastEvent(t, s, &settled)
	require.Equal(t, number, settled.GetNumber())

	// ---- a refund of part of the deposit, a credit note on the next instalment ----
	refund, err := c.RequestRefundWithResponse(ctx, &client.RequestRefundParams{IdempotencyKey: ptr("ref-" + uuid.NewString())},
		client.RefundCreate{PatientId: patient, InvoiceId: &deposit.Id, Amount: cny(50_000), Reason: "goodwill"}, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, refund.StatusCode(), string(refund.Body))
	require.Equal(t, client.RefundStatusIssued, refund.JSON201.Status, "below the approval limit")
	refNumber, err := refund.JSON201.Number.Get()
	require.NoError(t, err)
	require.Equal(t, number, refNumber)

	note, err := c.IssueCreditNoteWithResponse(ctx, &client.IssueCreditNoteParams{IdempotencyKey: ptr("cn-" + uuid.NewString())},
		client.CreditNoteCreate{PatientId: patient, InvoiceId: instalment.Id, Total: cny(100_000), ReduceOwed: ptr(cny(100_000)),
			Reason: "goodwill"}, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, note.StatusCode(), string(note.Body))
	cn := note.JSON201
	require.Regexp(t, `^CN-\d{4}-\d{6}$`, cn.Number)
	require.Equal(t, cny(100_000), cn.ReduceOwed)
	require.Equal(t, cny(0), cn.Refund, "an absent part is zero")
	instNumber, err := instalment.Number.Get()
	require.NoError(t, err)
	require.Equal(t, instNumber, cn.InvoiceNumber)
	notes, err := c.ListCreditNotesWithResponse(ctx, &client.ListCreditNotesParams{CourseId: &course}, desk)
	require.NoError(t, err)
	require.Equal(t, []client.CreditNote{*cn}, notes.JSON200.Items)
	inv, err = c.GetInvoiceWithResponse(ctx, instalment.Id, nil, desk)
	require.NoError(t, err)
	require.Equal(t, cny(100_000), inv.JSON200.Credited)
	require.Equal(t, instalment.AmountDue.Value-100_000, inv.JSON200.AmountDue.Value)

	acct, err = c.GetAccountWithResponse(ctx, patient, nil, desk)
	require.NoError(t, err)
	b := acct.JSON200.Balance
	require.Equal(t, cny(5_200_000-1_200_000-100_000), b.Owed)
	require.Equal(t, cny(1_200_000), b.PaidIn)
	require.Equal(t, cny(50_000), b.Refunded)
	require.Equal(t, cny(0), b.AccountCredit)

	// ---- the admin: the ledger agrees with all of it ----
	check, err := c.CheckLedgerWithResponse(ctx, nil, admin)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, check.StatusCode(), string(check.Body))
	require.True(t, check.JSON200.Ok, "%+v", check.JSON200.Violations)
	require.Empty(t, check.JSON200.Violations)
	require.Positive(t, check.JSON200.Postings)
	denied, err := c.CheckLedgerWithResponse(ctx, nil, desk)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, denied.StatusCode())
	require.EqualValues(t, http.StatusForbidden, denied.ApplicationproblemJSON403.Status)

	// ---- the prices the course was invoiced at ----
	program, version := "nk-autologous", "NK-AUTO-2026.1"
	today := openapi_types.Date{Time: time.Now()}
	lists, err := c.ListPriceListsWithResponse(ctx, &client.ListPriceListsParams{Program: &program, ValidOn: &today}, desk)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, lists.StatusCode(), string(lists.Body))
	require.Len(t, lists.JSON200.Items, 1)
	pl := lists.JSON200.Items[0]
	require.Equal(t, version, pl.ProtocolVersion)
	require.Equal(t, dep.Total, pl.Deposit, "the deposit invoice is the list's deposit")
	require.True(t, pl.ValidTo.IsNull(), "open-ended")
	one, err := c.GetPriceListWithResponse(ctx, program, version, pl.ValidFrom, nil, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, one.StatusCode(), string(one.Body))
	require.Equal(t, pl, *one.JSON200)
	missing, err := c.GetPriceListWithResponse(ctx, program, "NO-SUCH-1", pl.ValidFrom, nil, cashier)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, missing.StatusCode())
	require.EqualValues(t, http.StatusNotFound, missing.ApplicationproblemJSON404.Status)
	policy, err := c.GetCancellationPolicyWithResponse(ctx, program, nil, desk)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, policy.StatusCode(), string(policy.Body))
	rest, err := policy.JSON200.InfusionsGiven.RestTo.Get()
	require.NoError(t, err)
	require.Equal(t, client.AccountCredit, rest)
	_, err = policy.JSON200.BeforeCulture.RestTo.Get()
	require.Error(t, err, "all refunded: no rest to send anywhere")
}

// plannedCourse opens a patient's account and plans a six-cycle
// nk-autologous course for it, as intake and scheduling would, and waits
// until billing has invoiced it.
func plannedCourse(t *testing.T, s *testharness.Service) (patient, course uuid.UUID) {
	t.Helper()
	patient, course = uuid.New(), uuid.New()
	registered(t, s, patient.String())
	planned(t, s, patient.String(), course.String())
	return patient, course
}

// billingClient is the generated client on s, and a request editor that
// sends a role's token.
func billingClient(t *testing.T, s *testharness.Service) (*client.ClientWithResponses, func(httpx.Role) client.RequestEditorFn) {
	t.Helper()
	c, err := client.NewClientWithResponses("http://"+s.Runtime.Addr(), client.WithHTTPClient(s.HTTP))
	require.NoError(t, err)
	return c, func(role httpx.Role) client.RequestEditorFn {
		return func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+s.Tokens[role])
			return nil
		}
	}
}

// billingEvents waits until the outbox is drained and returns how many
// events of ev's type are on the BILLING stream.
func billingEvents(t *testing.T, s *testharness.Service, ev proto.Message) int {
	t.Helper()
	testharness.Eventually(t, 10*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM outbox`) == 0 }, "outbox drained")
	subject := string(ev.ProtoReflect().Descriptor().FullName())
	stream, err := s.NATS.JS.Stream(t.Context(), "BILLING")
	require.NoError(t, err)
	info, err := stream.Info(t.Context(), jetstream.WithSubjectFilter(subject))
	require.NoError(t, err)
	return int(info.State.Subjects[subject]) //nolint:gosec // a test's handful
}

// lastEvent reads the last event of ev's type on the BILLING stream into ev.
func lastEvent(t *testing.T, s *testharness.Service, ev proto.Message) {
	t.Helper()
	require.Positive(t, billingEvents(t, s, ev), "no %T published", ev)
	stream, err := s.NATS.JS.Stream(t.Context(), "BILLING")
	require.NoError(t, err)
	m, err := stream.GetLastMsgForSubject(t.Context(), string(ev.ProtoReflect().Descriptor().FullName()))
	require.NoError(t, err)
	require.NoError(t, proto.Unmarshal(m.Data, ev))
}

func cny(v int64) client.Money { return client.Money{Value: v, Currency: "CNY"} }

func ptr[T any](v T) *T { return &v }
