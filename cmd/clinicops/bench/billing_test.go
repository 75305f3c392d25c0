package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	billing "github.com/clinicops/clinicops/services/billing/service"
)

// BenchmarkBillingPayments records payments over HTTP: the billing desk's
// real stack (token, Idempotency-Key, strict decoding, the account's lock
// and its ledger loaded, the payment row, the posting, PaymentRecorded in
// the outbox with the account's next sequence number), 32 clients for 15 s
// over 2,000 accounts, each payment with its own key and reference. The
// row+outbox ceiling is measured at the same concurrency in the same run.
func BenchmarkBillingPayments(b *testing.B) {
	ctx := context.Background()
	log := logger()
	pg, js := startStack(b, log)
	const clients, accounts = 32, 2000
	ceiling, err := measureRowOutboxTx(ctx, log, pg, clients, 10*time.Second, ceilingOpts{})
	if err != nil {
		b.Fatal(err)
	}
	token := httpx.GenerateToken()
	tokens, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleBilling: {token}})
	if err != nil {
		b.Fatal(err)
	}
	rt, _ := runService(b, billing.Service, "billing_bench", pg, js, tokens, log, 64)
	ids := make([]uuid.UUID, accounts)
	for i := range ids {
		ids[i] = uuid.New()
		if _, err := rt.DB.ExecContext(ctx, `INSERT INTO accounts (patient_id, currency, opened_at, version) VALUES ($1, 'CNY', now(), 1)`, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	base := "http://" + rt.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}, Timeout: 30 * time.Second}
	var seq, created, other atomic.Int64
	var firstOther atomic.Value
	res, err := runFor(clients, 15*time.Second, func() error {
		n := seq.Add(1)
		body, _ := json.Marshal(map[string]any{"patient_id": ids[n%accounts], "amount": map[string]any{"value": 10_000 + n%100, "currency": "CNY"},
			"method": "card", "external_reference": fmt.Sprintf("BENCH-%d", n), "received_at": time.Now().UTC().Format(time.RFC3339)})
		req, err := http.NewRequest(http.MethodPost, base+"/v1/payments", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", n))
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("pay: %w", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			created.Add(1)
		} else {
			other.Add(1)
			firstOther.CompareAndSwap(nil, resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var stored int64
	if err := rt.DB.GetContext(ctx, &stored, `SELECT count(*) FROM payments`); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("BENCH payments_throughput %.0f/s ceiling=%.0f ratio=%.2f\n", res.rate(), ceiling.rate(), res.rate()/ceiling.rate())
	fmt.Printf("BENCH payments_p50 %.2f ms\n", quantile(res.lat, 0.50))
	fmt.Printf("BENCH payments_p99 %.2f ms\n", quantile(res.lat, 0.99))
	fmt.Printf("BENCH payments_all_recorded %v (%d answered 201, %d stored, %d other; first other: %v)\n",
		other.Load() == 0 && stored == created.Load(), created.Load(), stored, other.Load(), firstOther.Load())
}
