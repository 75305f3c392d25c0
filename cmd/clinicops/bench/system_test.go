package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	billing "github.com/clinicops/clinicops/services/billing/service"
	followup "github.com/clinicops/clinicops/services/followup/service"
	intake "github.com/clinicops/clinicops/services/intake/service"
	scheduling "github.com/clinicops/clinicops/services/scheduling/service"
)

// BenchmarkSystemRegistration loads the whole system as `make run` runs it
// (all four services in one process, a durable Postgres with a database
// each, embedded JetStream) the way a front desk does: clients registering
// patients over HTTP. A registration costs one commit in intake and one in
// each of the three services that consume PatientRegistered, so the goal is
// set against a quarter of the row+outbox ceiling measured in the same run
// (8 workers, as performance.md measures it): ratio = rate / (ceiling / 4),
// goal >= 0.4. The rate counts registrations answered 201; the run then
// waits until every consumer holds every patient, and fails if one does not.
func BenchmarkSystemRegistration(b *testing.B) {
	ctx := context.Background()
	log := logger()
	pg, js := startStack(b, log)

	const ceilingWorkers = 8
	ceilingBefore, err := measureRowOutboxTx(ctx, log, pg, ceilingWorkers, 10*time.Second, ceilingOpts{})
	if err != nil {
		b.Fatal(err)
	}

	token := httpx.GenerateToken()
	tokens, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleFrontDesk: {token}})
	if err != nil {
		b.Fatal(err)
	}
	services := []platform.Service{intake.Service, scheduling.Service, billing.Service, followup.Service}
	dbs := map[string]*sqlx.DB{}
	var intakeAddr string
	var stops []func()
	cancel := func() {
		for _, stop := range stops {
			stop()
		}
	}
	for _, svc := range services {
		rt, stop := runService(b, svc, "system_"+svc.Name, pg, js, tokens, log, 32)
		stops = append(stops, stop)
		dbs[svc.Name] = rt.DB
		if svc.Name == intake.Service.Name {
			intakeAddr = rt.Addr()
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}, Timeout: 30 * time.Second}

	const clients = 32
	var seq, created, refused atomic.Int64
	reg, err := runFor(clients, 15*time.Second, func() error {
		n := seq.Add(1)
		body, _ := json.Marshal(map[string]any{
			"family_name": "张", "given_name": fmt.Sprintf("前台%d", n), "birth_date": "1979-02-11", "sex": "male",
			"phone": fmt.Sprintf("+86137%08d", n), "preferred_language": "zh-CN",
		})
		status, _, err := do(client, http.MethodPost, "http://"+intakeAddr+"/v1/patients", token, body)
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		if status != http.StatusCreated {
			refused.Add(1)
			return nil
		}
		created.Add(1)
		return nil
	})
	if err != nil {
		b.Fatalf("registration: %v", err)
	}
	// Every consumer catches up on every registration.
	caughtUp := time.Now()
	readModels := map[string]string{
		scheduling.Service.Name: `SELECT count(*) FROM patients`,
		billing.Service.Name:    `SELECT count(*) FROM accounts`,
		followup.Service.Name:   `SELECT count(*) FROM patient_contacts`,
	}
	for svc, q := range readModels {
		for {
			var n int64
			if err := dbs[svc].GetContext(ctx, &n, q); err != nil {
				b.Fatal(err)
			}
			if n == created.Load() {
				break
			}
			if time.Since(caughtUp) > 2*time.Minute {
				b.Fatalf("%s holds %d of %d patients after 2 min", svc, n, created.Load())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	lag := time.Since(caughtUp)
	cancel()
	ceilingAfter, err := measureRowOutboxTx(ctx, log, pg, ceilingWorkers, 10*time.Second, ceilingOpts{})
	if err != nil {
		b.Fatal(err)
	}
	ceiling := (ceilingBefore.rate() + ceilingAfter.rate()) / 2
	fmt.Printf("BENCH system_register_throughput %.0f req/s ceiling/4=%.0f ratio=%.2f (goal >= 0.40)\n",
		reg.rate(), ceiling/4, reg.rate()/(ceiling/4))
	fmt.Printf("BENCH system_register_ceiling %.0f tx/s before, %.0f after (%d workers)\n", ceilingBefore.rate(), ceilingAfter.rate(), ceilingWorkers)
	fmt.Printf("BENCH system_register_p50 %.2f ms\n", quantile(reg.lat, 0.50))
	fmt.Printf("BENCH system_register_p99 %.2f ms\n", quantile(reg.lat, 0.99))
	fmt.Printf("BENCH system_register_all_created %v (%d of %d answered 201)\n", refused.Load() == 0, created.Load(), created.Load()+refused.Load())
	fmt.Printf("BENCH system_register_consumers_caught_up %.1f s after the last registration\n", lag.Seconds())
}
