package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	intake "github.com/clinicops/clinicops/services/intake/service"
)

// intakeSearchPatients is how many patients the search phase loads.
var intakeSearchPatients = envInt("CLINICOPS_BENCH_SEARCH_PATIENTS", 1_000_000)

// BenchmarkIntake measures the front desk: registration over HTTP
// (authentication, validation, duplicate check, the row and the outbox) at a
// concurrency that fills the machine, against the bare row+outbox
// transaction measured in the same run; then patient search over a million
// patients.
func BenchmarkIntake(b *testing.B) {
	ctx := context.Background()
	log := logger()
	pg, js := startStack(b, log)

	// Registration's concurrency; the ceiling runs at the same concurrency,
	// before and after the registration run, so that a neighbour's load that
	// comes or goes during the run shows as drift between the two.
	const clients = 32
	ceilingBefore, err := measureRowOutboxTx(ctx, log, pg, clients, 10*time.Second, ceilingOpts{})
	if err != nil {
		b.Fatal(err)
	}

	token := httpx.GenerateToken()
	tokens, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleFrontDesk: {token}})
	if err != nil {
		b.Fatal(err)
	}
	rt, _ := runService(b, intake.Service, "intake_bench", pg, js, tokens, log, 64)
	base := "http://" + rt.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}, Timeout: 30 * time.Second}

	// Registration: 32 clients, unique patients, 15 s. A non-201 answer is
	// counted and the run goes on; a transport error ends the run.
	var seq, created, refused atomic.Int64
	var firstRefusal atomic.Value
	reg, err := runFor(clients, 15*time.Second, func() error {
		n := seq.Add(1)
		body, _ := json.Marshal(map[string]any{
			"family_name": "王", "given_name": fmt.Sprintf("测试%d", n), "birth_date": "1980-05-17", "sex": "female",
			"phone": fmt.Sprintf("+86138%08d", n), "preferred_language": "zh-CN",
		})
		status, _, err := do(client, http.MethodPost, base+"/v1/patients", token, body)
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		if status != http.StatusCreated {
			refused.Add(1)
			firstRefusal.CompareAndSwap(nil, status)
			return nil
		}
		created.Add(1)
		return nil
	})
	if err != nil {
		b.Fatalf("registration: %v", err)
	}
	ceilingAfter, err := measureRowOutboxTx(ctx, log, pg, clients, 10*time.Second, ceilingOpts{})
	if err != nil {
		b.Fatal(err)
	}
	ceiling := (ceilingBefore.rate() + ceilingAfter.rate()) / 2
	fmt.Printf("BENCH intake_register_throughput %.0f req/s ceiling=%.0f ratio=%.2f\n", reg.rate(), ceiling, reg.rate()/ceiling)
	fmt.Printf("BENCH intake_register_ceiling_before %.0f tx/s (%d workers)\n", ceilingBefore.rate(), clients)
	fmt.Printf("BENCH intake_register_ceiling_after %.0f tx/s (%d workers) drift=%+.0f%%\n", ceilingAfter.rate(), clients,
		100*(ceilingAfter.rate()-ceilingBefore.rate())/ceilingBefore.rate())
	fmt.Printf("BENCH intake_register_p50 %.2f ms\n", quantile(reg.lat, 0.50))
	fmt.Printf("BENCH intake_register_p99 %.2f ms\n", quantile(reg.lat, 0.99))
	if refused.Load() == 0 {
		fmt.Printf("BENCH intake_register_all_created yes (all %d registrations answered 201)\n", created.Load())
	} else {
		fmt.Printf("BENCH intake_register_all_created no (%d of %d answered 201; first other answer: %v)\n",
			created.Load(), created.Load()+refused.Load(), firstRefusal.Load())
	}
	var stored int64
	if err := rt.DB.GetContext(ctx, &stored, `SELECT count(*) FROM patients`); err != nil {
		b.Fatal(err)
	}
	if stored != created.Load() {
		b.Fatalf("registration: %d answered 201 but %d patients stored", created.Load(), stored)
	}
	notef("registration: %d clients, %d requests in %s", clients, reg.count, reg.elapsed.Round(time.Millisecond))

	// Search over a million patients, loaded in SQL (the HTTP path is
	// measured above; this phase is about the indexes).
	loadStart := time.Now()
	if err := loadPatients(ctx, rt, intakeSearchPatients); err != nil {
		b.Fatal(err)
	}
	var total int64
	if err := rt.DB.GetContext(ctx, &total, `SELECT count(*) FROM patients`); err != nil {
		b.Fatal(err)
	}
	notef("search: %d patients loaded in %s", total, time.Since(loadStart).Round(time.Second))
	// Every query names rows loadPatients made (李建华 is row 401; phone and
	// passport numbers are derived from the row number), and every answer
	// must hold at least one patient: an empty page is cheap and measures
	// nothing.
	mid := max(intakeSearchPatients/2, 1)
	queries := []struct{ name, query string }{
		{"surname", "q=" + url.QueryEscape("李") + "&limit=20"},
		{"full_name", "q=" + url.QueryEscape("李建华") + "&limit=20"},
		{"phone", "phone=" + url.QueryEscape(fmt.Sprintf("+86139%08d", mid))},
		{"national_id", fmt.Sprintf("national_id=P%08d", max(mid/3, 1))},
	}
	search1 := func(q string) (int, error) {
		status, body, err := do(client, http.MethodGet, base+"/v1/patients?"+q, token, nil)
		if err != nil || status != http.StatusOK {
			return 0, fmt.Errorf("status %d: %v", status, err)
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return 0, fmt.Errorf("decode page: %w", err)
		}
		return len(page.Items), nil
	}
	for _, q := range queries {
		n, err := search1(q.query)
		if err != nil {
			b.Fatalf("search %s: %v", q.name, err)
		}
		if n == 0 {
			b.Fatalf("search %s found no patient: the benchmark would measure empty pages", q.name)
		}
		notef("search %s: %d patients on the first page", q.name, n)
	}
	var qn atomic.Int64
	search, err := runFor(8, 10*time.Second, func() error {
		q := queries[int(qn.Add(1))%len(queries)]
		n, err := search1(q.query)
		if err != nil {
			return fmt.Errorf("search %s: %w", q.name, err)
		}
		if n == 0 {
			return fmt.Errorf("search %s: empty page", q.name)
		}
		return nil
	})
	if err != nil {
		b.Fatalf("search: %v", err)
	}
	fmt.Printf("BENCH intake_search_patients %d patients\n", total)
	fmt.Printf("BENCH intake_search_throughput %.0f req/s\n", search.rate())
	fmt.Printf("BENCH intake_search_p50 %.2f ms\n", quantile(search.lat, 0.50))
	fmt.Printf("BENCH intake_search_p99 %.2f ms\n", quantile(search.lat, 0.99))
}

// do sends one request and returns the status and the body.
func do(c *http.Client, method, u, token string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// loadPatients inserts n synthetic patients: common Chinese surnames and
// given names, unique phones, passport numbers P00000001.., in batches.
func loadPatients(ctx context.Context, rt *platform.Runtime, n int) error {
	const batch = 100_000
	for from := 1; from <= n; from += batch {
		to := min(from+batch-1, n)
		_, err := rt.DB.ExecContext(ctx, `
			INSERT INTO patients (id, family_name, given_name, birth_date, sex, phone, email, preferred_language,
				national_id_type, national_id_value, version, created_at, updated_at)
			SELECT gen_random_uuid(),
				(ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周','徐','孙','马','朱','胡','郭','何','高','林','罗'])[1 + i % 20],
				(ARRAY['伟','芳','娜','秀英','敏','静','丽','强','磊','军','洋','勇','艳','杰','娟','涛','明','超','秀兰','霞','建华'])[1 + (i / 20) % 21]
					|| (ARRAY['','一','二','三','文','武','平','安'])[1 + (i / 420) % 8],
				date '1940-01-01' + (i % 25000),
				(ARRAY['female','male'])[1 + i % 2],
				'+86139' || lpad(i::text, 8, '0'),
				NULL, 'zh-CN', 'passport', 'P' || lpad(i::text, 8, '0'), 1, now(), now()
			FROM generate_series($1::int, $2::int) AS i`, from, to)
		if err != nil {
			return fmt.Errorf("load patients %d-%d: %w", from, to, err)
		}
	}
	_, err := rt.DB.ExecContext(ctx, `ANALYZE patients`)
	return err
}
