package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/devstack"
)

// config holds the knobs; every one can be overridden from the environment.
type config struct {
	events          int           // CLINICOPS_BENCH_EVENTS: events in the throughput phase
	producers       int           // CLINICOPS_BENCH_PRODUCERS: producer workers (and ceiling workers)
	consumerWorkers int           // CLINICOPS_BENCH_CONSUMER_WORKERS: ProcessorConfig.Workers
	ceilingTime     time.Duration // CLINICOPS_BENCH_CEILING_TIME: row+outbox ceiling run
	jsTime          time.Duration // CLINICOPS_BENCH_JS_TIME: each JetStream ceiling run
	latencyRate     int           // CLINICOPS_BENCH_LATENCY_RATE: events/s of the latency phase
	latencyTime     time.Duration // CLINICOPS_BENCH_LATENCY_TIME: measured part of the latency phase
	latencyWorkers  int           // CLINICOPS_BENCH_LATENCY_PRODUCERS: producer workers of the latency phase
	warmUp          time.Duration // not counted in the latency figures
	diag            bool          // CLINICOPS_BENCH_DIAG=1: per-stage diagnostics
	only            string        // CLINICOPS_BENCH_ONLY: run only these phases, no BENCH lines (development)
}

// want reports whether a main phase (ceiling, jetstream, throughput,
// latency) runs: all of them unless CLINICOPS_BENCH_ONLY lists some.
func (c config) want(phase string) bool {
	return c.only == "" || slices.Contains(strings.Split(c.only, ","), phase)
}

func loadConfig() config {
	return config{
		events:          envInt("CLINICOPS_BENCH_EVENTS", 20000),
		producers:       envInt("CLINICOPS_BENCH_PRODUCERS", 8),
		consumerWorkers: envInt("CLINICOPS_BENCH_CONSUMER_WORKERS", 16),
		ceilingTime:     envDuration("CLINICOPS_BENCH_CEILING_TIME", 10*time.Second),
		jsTime:          envDuration("CLINICOPS_BENCH_JS_TIME", 5*time.Second),
		latencyRate:     envInt("CLINICOPS_BENCH_LATENCY_RATE", 1000),
		latencyTime:     envDuration("CLINICOPS_BENCH_LATENCY_TIME", 10*time.Second),
		latencyWorkers:  envInt("CLINICOPS_BENCH_LATENCY_PRODUCERS", 4),
		warmUp:          time.Second,
		diag:            os.Getenv("CLINICOPS_BENCH_DIAG") == "1",
		only:            os.Getenv("CLINICOPS_BENCH_ONLY"),
	}
}

// BenchmarkPipeline measures producer commit -> consumer commit through the
// outbox, the relay, JetStream and the processor, and the ceilings it is
// compared with, on one durable cluster. Run it with -benchtime 1x.
func BenchmarkPipeline(b *testing.B) {
	cfg := loadConfig()
	ctx := context.Background()
	log := logger()
	// Write back what earlier work (another benchmark's cluster) left dirty,
	// so that its I/O does not land in this benchmark's ceilings.
	syscall.Sync()
	pg, err := startCluster(ctx, log)
	if err != nil {
		b.Fatalf("start durable postgres: %v", err)
	}
	b.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			b.Errorf("stop postgres: %v", err)
		}
	})
	sample := patient(uuid.NewString())
	notef("config: %+v; %d cores; postgres data in %s; event %d B protobuf, business row %d B json",
		cfg, numCPU(), pg.DataDir(), proto.Size(sample), len(thingPayload(sample)))

	// 1. Ceilings: bare JetStream publishes.
	var async, syncPub pubResult
	if cfg.want("jetstream") {
		if async, err = measurePublishAsync(ctx, log, pg, cfg.jsTime); err != nil {
			b.Fatalf("jetstream async ceiling: %v", err)
		}
		notef("ceiling jetstream publish async (1 client, 256 B, msg id): %s", async)
		if syncPub, err = measurePublishSync(ctx, log, pg, cfg.jsTime); err != nil {
			b.Fatalf("jetstream sync ceiling: %v", err)
		}
		notef("ceiling jetstream publish sync (1 client, 256 B, msg id): %s", syncPub)
	}

	// 2. Ceiling: bare row + outbox transaction, plain SQL, no NOTIFY, run
	// just before and just after the pipeline it is compared with. A ceiling
	// is what the machine can do, and on a shared machine noise only lowers
	// a run, so the better of the two counts: the ratio errs low, not high.
	var ceiling, ceilingBefore, ceilingAfter txResult
	if cfg.want("ceiling") {
		if ceilingBefore, err = measureRowOutboxTx(ctx, log, pg, cfg.producers, cfg.ceilingTime, ceilingOpts{}); err != nil {
			b.Fatalf("row+outbox ceiling: %v", err)
		}
		notef("ceiling row+outbox tx before the pipeline (%d workers, no NOTIFY): %s", cfg.producers, ceilingBefore)
	}

	// 3. Pipeline throughput.
	var tp throughput
	if cfg.want("throughput") {
		if tp, err = measureThroughput(ctx, log, pg, cfg); err != nil {
			b.Fatalf("pipeline throughput: %v", err)
		}
		for _, l := range tp.notes {
			notef("%s", l)
		}
	}

	if cfg.want("ceiling") {
		if ceilingAfter, err = measureRowOutboxTx(ctx, log, pg, cfg.producers, cfg.ceilingTime, ceilingOpts{}); err != nil {
			b.Fatalf("row+outbox ceiling: %v", err)
		}
		notef("ceiling row+outbox tx after the pipeline (%d workers, no NOTIFY): %s", cfg.producers, ceilingAfter)
		ceiling = ceilingBefore
		if ceilingAfter.rate() > ceiling.rate() {
			ceiling = ceilingAfter
		}
	}

	// 4. Pipeline latency at a steady rate.
	var lat latency
	if cfg.want("latency") {
		if lat, err = measureLatency(ctx, log, pg, cfg); err != nil {
			b.Fatalf("pipeline latency: %v", err)
		}
		for _, l := range lat.notes {
			notef("%s", l)
		}
	}

	if cfg.diag || cfg.only == "diag" {
		if err := diagnose(ctx, log, pg, cfg); err != nil {
			b.Fatalf("diagnostics: %v", err)
		}
	}
	if cfg.only != "" {
		return // partial run: no BENCH lines
	}

	ratio := tp.rate / ceiling.rate()
	// CPU spent per event against CPU per ceiling transaction: less
	// sensitive than the rates to other processes on a shared machine.
	ceilingCPU := (ceiling.cpu.Self + ceiling.cpu.Postgres) / time.Duration(max(ceiling.count, 1))
	notef("cpu (go process + postgres) per pipeline event %d µs, per ceiling tx %d µs: cpu ratio %.2f (rate ratio %.2f)",
		tp.cpu.Microseconds(), ceilingCPU.Microseconds(), float64(ceilingCPU)/float64(tp.cpu), ratio)
	fmt.Printf("BENCH pipeline_throughput %.0f events/s ceiling=%.0f ratio=%.2f\n", tp.rate, ceiling.rate(), ratio)
	fmt.Printf("BENCH pipeline_latency_p50 %.2f ms\n", lat.p50)
	fmt.Printf("BENCH pipeline_latency_p95 %.2f ms\n", lat.p95)
	fmt.Printf("BENCH pipeline_latency_p99 %.2f ms\n", lat.p99)
	fmt.Printf("BENCH ceiling_row_outbox_tx %.0f tx/s\n", ceiling.rate())
	fmt.Printf("BENCH ceiling_jetstream_publish_async %.0f msg/s\n", async.rate())
	fmt.Printf("BENCH ceiling_jetstream_publish_sync %.0f msg/s\n", syncPub.rate())
	fmt.Printf("BENCH pipeline_latency_rate %.0f events/s\n", lat.rate)

	b.ReportMetric(tp.rate, "events/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(lat.p50, "p50-ms")
	b.ReportMetric(lat.p99, "p99-ms")
}

type throughput struct {
	rate  float64
	cpu   time.Duration // go process + postgres, per event
	notes []string
}

// measureThroughput commits cfg.events registrations with cfg.producers
// workers as fast as they go, with the relay and the processor running, and
// divides the count by the time from the first producer commit to the last
// consumer commit.
func measureThroughput(ctx context.Context, log *slog.Logger, pg *devstack.Postgres, cfg config) (throughput, error) {
	r, err := newRig(ctx, log, pg)
	if err != nil {
		return throughput{}, err
	}
	defer r.close()
	if _, err := r.startProcessor(ctx, "scheduling", cfg.consumerWorkers); err != nil {
		return throughput{}, err
	}
	if err := r.startRelay(); err != nil {
		return throughput{}, err
	}
	n := int64(cfg.events)
	stopSampler := r.sampler(time.Second)
	meter := newCPUMeter(pg)
	if err := r.produceN(ctx, cfg.producers, n); err != nil {
		stopSampler()
		return throughput{}, fmt.Errorf("produce: %w", err)
	}
	producedAt := time.Now()
	if err := r.waitConsumed(ctx, n, 10*time.Minute); err != nil {
		stopSampler()
		return throughput{}, err
	}
	usage := meter.since()
	timeline := stopSampler()
	first, last := time.Unix(0, r.firstProd.Load()), time.Unix(0, r.lastCommit.Load())
	span := last.Sub(first)
	var effects, processed int64
	if err := r.scheduling.db.GetContext(ctx, &effects, `SELECT count(*) FROM effects WHERE applied = 1`); err != nil {
		return throughput{}, err
	}
	if err := r.scheduling.db.GetContext(ctx, &processed, `SELECT count(*) FROM processed_events`); err != nil {
		return throughput{}, err
	}
	if effects != n || processed != n {
		return throughput{}, fmt.Errorf("consumer applied %d effects and recorded %d processed events, want %d each", effects, processed, n)
	}
	rate := float64(n) / span.Seconds()
	notes := []string{
		fmt.Sprintf("pipeline throughput: %d events (%d producers, %d consumer workers) from first producer commit to last consumer commit in %.2fs = %.0f events/s",
			n, cfg.producers, cfg.consumerWorkers, span.Seconds(), rate),
		fmt.Sprintf("  producers alone finished after %.2fs (%.0f events/s while the relay and the consumer ran)",
			producedAt.Sub(first).Seconds(), float64(n)/producedAt.Sub(first).Seconds()),
		"  " + r.batchStats(),
		"  " + usage.String(),
		fmt.Sprintf("  cpu per event: go process %.0f µs, postgres %.0f µs",
			float64(usage.Self.Microseconds())/float64(n), float64(usage.Postgres.Microseconds())/float64(n)),
	}
	for _, l := range timeline {
		notes = append(notes, "  "+l)
	}
	return throughput{rate: rate, cpu: (usage.Self + usage.Postgres) / time.Duration(n), notes: notes}, nil
}

type latency struct {
	p50, p95, p99 float64 // ms
	rate          float64 // events/s actually produced in the measured window
	notes         []string
}

// measureLatency produces at a steady cfg.latencyRate for warm-up +
// cfg.latencyTime (a 1 ms ticker hands due events to a few producer
// workers) and measures, per event, consumer commit time minus producer
// commit time. Events committed by the producer during the warm-up are not
// counted.
func measureLatency(ctx context.Context, log *slog.Logger, pg *devstack.Postgres, cfg config) (latency, error) {
	r, err := newRig(ctx, log, pg)
	if err != nil {
		return latency{}, err
	}
	defer r.close()
	r.track = true
	if _, err := r.startProcessor(ctx, "scheduling", cfg.consumerWorkers); err != nil {
		return latency{}, err
	}
	if err := r.startRelay(); err != nil {
		return latency{}, err
	}

	jobs := make(chan struct{}, cfg.latencyRate)
	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		prodEr error
	)
	for range cfg.latencyWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := r.produce(ctx); err != nil {
					errMu.Lock()
					prodEr = err
					errMu.Unlock()
				}
			}
		}()
	}
	meter := newCPUMeter(pg)
	total := cfg.warmUp + cfg.latencyTime
	ticker := time.NewTicker(time.Millisecond)
	start := time.Now()
	sent := 0
	for {
		<-ticker.C
		elapsed := time.Since(start)
		if elapsed >= total {
			break
		}
		for due := int(elapsed.Seconds() * float64(cfg.latencyRate)); sent < due; sent++ {
			jobs <- struct{}{}
		}
	}
	ticker.Stop()
	close(jobs)
	wg.Wait()
	if prodEr != nil {
		return latency{}, fmt.Errorf("produce: %w", prodEr)
	}
	if err := r.waitConsumed(ctx, r.produced.Load(), time.Minute); err != nil {
		return latency{}, err
	}
	usage := meter.since()

	cut, end := start.Add(cfg.warmUp), start.Add(total)
	r.mu.Lock()
	var (
		lats     []time.Duration
		inWindow int
		missing  int
	)
	for id, pt := range r.prodAt {
		if pt.Before(cut) {
			continue
		}
		if pt.Before(end) {
			inWindow++
		}
		ct, ok := r.consAt[id]
		if !ok {
			missing++
			continue
		}
		lats = append(lats, ct.Sub(pt))
	}
	r.mu.Unlock()
	if missing > 0 || len(lats) == 0 {
		return latency{}, fmt.Errorf("latency: %d events without a consumer commit time, %d with", missing, len(lats))
	}
	ms := millis(lats)
	var sum float64
	for _, v := range ms {
		sum += v
	}
	res := latency{
		p50:  quantile(ms, 0.50),
		p95:  quantile(ms, 0.95),
		p99:  quantile(ms, 0.99),
		rate: float64(inWindow) / cfg.latencyTime.Seconds(),
	}
	res.notes = []string{
		fmt.Sprintf("pipeline latency at %.0f events/s (target %d, %d producer workers, %d consumer workers): %d samples after a %s warm-up; p50 %.2f p90 %.2f p95 %.2f p99 %.2f p99.9 %.2f max %.2f mean %.2f ms",
			res.rate, cfg.latencyRate, cfg.latencyWorkers, cfg.consumerWorkers, len(ms), cfg.warmUp,
			res.p50, quantile(ms, 0.90), res.p95, res.p99, quantile(ms, 0.999), ms[len(ms)-1], sum/float64(len(ms))),
		"  " + r.batchStats(),
		"  " + usage.String(),
	}
	return res, nil
}
