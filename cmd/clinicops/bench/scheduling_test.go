package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	scheduling "github.com/clinicops/clinicops/services/scheduling/service"
)

// BenchmarkSchedulingBooking is booking under contention: 64 front-desk
// clients over HTTP, all going for the same chair's slots in the same
// order, so every slot is fought over by up to 64 requests at once. The
// exclusion constraint decides; the benchmark counts the attempts per
// second and checks that each slot has exactly one winner (in the answers
// and in the database). The row+outbox ceiling at the same concurrency is
// measured in the same run.
func BenchmarkSchedulingBooking(b *testing.B) {
	ctx := context.Background()
	log := logger()
	pg, js := startStack(b, log)
	const clients = 64
	ceiling, err := measureRowOutboxTx(ctx, log, pg, clients, 10*time.Second, ceilingOpts{})
	if err != nil {
		b.Fatal(err)
	}
	token := httpx.GenerateToken()
	tokens, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleFrontDesk: {token}})
	if err != nil {
		b.Fatal(err)
	}
	rt, _ := runService(b, scheduling.Service, "scheduling_bench", pg, js, tokens, log, 64)
	if err := scheduling.Service.Seed(ctx, rt); err != nil {
		b.Fatal(err)
	}
	// Holidays would turn some slots into 422s (closed): the fight is over
	// open slots.
	if _, err := rt.DB.ExecContext(ctx, `DELETE FROM closures`); err != nil {
		b.Fatal(err)
	}
	var chair uuid.UUID
	if err := rt.DB.GetContext(ctx, &chair, `SELECT id FROM resources WHERE name = 'Chair 1'`); err != nil {
		b.Fatal(err)
	}
	// One patient per client (a patient cannot be in two places, and the
	// fight is over the chair), written as intake's events would.
	patients := make([]uuid.UUID, clients)
	for i := range patients {
		patients[i] = uuid.New()
		if _, err := rt.DB.ExecContext(ctx, `INSERT INTO patients (patient_id, family_name, given_name, birth_date, version, updated_at)
			VALUES ($1, '王', '测试', '1980-01-01', 1, now())`, patients[i]); err != nil {
			b.Fatal(err)
		}
	}
	// Slot n: the n-th half hour of the clinic's weekday hours (08:00-18:00
	// in Shanghai), from next Monday on.
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	today := time.Now().In(loc)
	monday := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 8-int(today.Weekday()))
	slot := func(n int) time.Time {
		week, rest := n/100, n%100
		day, half := rest/20, rest%20
		return time.Date(monday.Year(), monday.Month(), monday.Day()+7*week+day, 8, 30*half, 0, 0, loc)
	}
	base := "http://" + rt.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}, Timeout: 30 * time.Second}
	const maxSlots = 1 << 16
	var wins [maxSlots]atomic.Int32
	var attempts, won, conflicts, other atomic.Int64
	var firstOther atomic.Value
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < maxSlots && time.Now().Before(deadline); n++ {
				s := slot(n)
				body, _ := json.Marshal(map[string]any{"patient_id": patients[c], "kind": "consultation", "resource_id": chair,
					"start": s.Format(time.RFC3339), "end": s.Add(30 * time.Minute).Format(time.RFC3339)})
				t0 := time.Now()
				status, answer, err := do(client, http.MethodPost, base+"/v1/appointments", token, body)
				lat[c] = append(lat[c], time.Since(t0))
				attempts.Add(1)
				switch {
				case err != nil:
					other.Add(1)
					firstOther.CompareAndSwap(nil, err.Error())
				case status == http.StatusCreated:
					won.Add(1)
					wins[n].Add(1)
				case status == http.StatusConflict:
					conflicts.Add(1)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, fmt.Sprintf("%d %s", status, answer))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slots, multi := 0, 0
	for i := range wins {
		switch w := wins[i].Load(); {
		case w == 1:
			slots++
		case w > 1:
			multi++
		}
	}
	var stored, overlapping int
	if err := rt.DB.GetContext(ctx, &stored, `SELECT count(*) FROM appointments WHERE resource_id = $1`, chair); err != nil {
		b.Fatal(err)
	}
	if err := rt.DB.GetContext(ctx, &overlapping, `SELECT count(*) FROM appointments a JOIN appointments o
		ON a.resource_id = o.resource_id AND a.id < o.id AND tstzrange(a.start_at, a.end_at) && tstzrange(o.start_at, o.end_at)
		WHERE a.resource_id = $1`, chair); err != nil {
		b.Fatal(err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	ms := millis(all)
	rate := float64(attempts.Load()) / elapsed.Seconds()
	fmt.Printf("BENCH booking_attempts %.0f/s winners=%d slots=%d ceiling=%.0f ratio=%.2f\n", rate, won.Load(), slots,
		ceiling.rate(), rate/ceiling.rate())
	fmt.Printf("BENCH booking_exactly_one_winner %s (slots won once %d, more than once %d, rows %d, overlapping rows %d, 409s %d, other %d)\n",
		yesNo(multi == 0 && overlapping == 0 && int64(stored) == won.Load() && other.Load() == 0), slots, multi, stored, overlapping,
		conflicts.Load(), other.Load())
	fmt.Printf("BENCH booking_p50 %.2f ms\n", quantile(ms, 0.50))
	fmt.Printf("BENCH booking_p99 %.2f ms\n", quantile(ms, 0.99))
	if v := firstOther.Load(); v != nil {
		notef("booking: first answer neither 201 nor 409: %v", v)
	}
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
