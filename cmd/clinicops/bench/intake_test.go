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
	"github.com/clinicops/clinicops/pkg/pgdb"
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
	pg, err := startCluster(ctx, log)
	if err != nil {
		b.Fatalf("start durable postgres: %v", err)
	}
	b.Cleanup(func() { _ = pg.Stop() })
	js, err := startJetStream(ctx, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(js.close)

	ceiling, err := measureRowOutboxTx(ctx, log, pg, 8, 10*time.Second, ceilingOpts{})
	if err != nil {
		b.Fatal(err)
	}

	if err := pg.DropDatabase(ctx, "intake_bench"); err != nil {
		b.Fatal(err)
	}
	if err := pg.CreateDatabase(ctx, "intake_bench", ""); err != nil {
		b.Fatal(err)
	}
	token := httpx.GenerateToken()
	tokens, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleFrontDesk: {token}})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	rt, err := intake.Service.New(runCtx, platform.Options{
		Config: platform.Config{Service: intake.Service.Name, HTTPAddr: "127.0.0.1:0", DatabaseURL: pg.DSN("intake_bench"), NATSURL: js.srv.ClientURL()},
		Tokens: tokens, Log: log,
		Pool: pgdb.PoolConfig{MaxOpenConns: 64},
	})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("intake: %v", err)
		}
	})
	base := "http://" + rt.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}, Timeout: 30 * time.Second}

	// Registration: 32 clients, unique patients, 15 s.
	const clients = 32
	var seq, failures atomic.Int64
	reg, err := runFor(clients, 15*time.Second, func() error {
		n := seq.Add(1)
		body, _ := json.Marshal(map[string]any{
			"family_name": "王", "given_name": fmt.Sprintf("测试%d", n), "birth_date": "1980-05-17", "sex": "female",
			"phone": fmt.Sprintf("+86138%08d", n), "preferred_language": "zh-CN",
		})
		status, err := do(client, http.MethodPost, base+"/v1/patients", token, body)
		if err != nil || status != http.StatusCreated {
			failures.Add(1)
			return fmt.Errorf("register: status %d: %v", status, err)
		}
		return nil
	})
	if err != nil {
		b.Fatalf("registration: %v (failures %d)", err, failures.Load())
	}
	fmt.Printf("BENCH intake_register_throughput %.0f req/s ceiling=%.0f ratio=%.2f\n", reg.rate(), ceiling.rate(), reg.rate()/ceiling.rate())
	fmt.Printf("BENCH intake_register_p50 %.2f ms\n", quantile(reg.lat, 0.50))
	fmt.Printf("BENCH intake_register_p99 %.2f ms\n", quantile(reg.lat, 0.99))
	fmt.Printf("BENCH intake_register_errors %d\n", failures.Load())
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
	queries := []struct{ name, query string }{
		{"surname", "q=" + url.QueryEscape("李") + "&limit=20"},
		{"full_name", "q=" + url.QueryEscape("李建华") + "&limit=20"},
		{"phone", "phone=" + url.QueryEscape("+8613912345678")},
		{"national_id", "national_id=P00123456"},
	}
	var qn atomic.Int64
	var pageErr atomic.Value
	search, err := runFor(8, 10*time.Second, func() error {
		q := queries[int(qn.Add(1))%len(queries)]
		status, err := do(client, http.MethodGet, base+"/v1/patients?"+q.query, token, nil)
		if err != nil || status != http.StatusOK {
			pageErr.Store(fmt.Sprintf("%s: %d %v", q.name, status, err))
			return fmt.Errorf("search %s: status %d: %v", q.name, status, err)
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

func do(c *http.Client, method, u, token string, body []byte) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
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
