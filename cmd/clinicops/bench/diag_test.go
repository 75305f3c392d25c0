package bench

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/clinicops/clinicops/pkg/devstack"
	"github.com/clinicops/clinicops/pkg/messaging"
)

// diagnose runs each stage of the pipeline alone (CLINICOPS_BENCH_DIAG=1),
// so that the pipeline's figure can be split into what each stage costs:
//
//   - the row+outbox ceiling again, then with the NOTIFY trigger the
//     outbox had until migration 0002, then with one round trip per statement (binary_parameters);
//   - the consumer's transaction alone in plain SQL, one event per
//     transaction (as today) and 16 per transaction;
//   - the pipeline's throughput again, sampling what the backends wait on;
//   - the pipeline's latency at a lower rate (CLINICOPS_BENCH_DIAG_RATE,
//     default 400 events/s);
//   - the producer alone (messaging.Outbox.Publish, no relay running);
//   - the relay alone, draining the outbox the producer left;
//   - the processor alone, draining the stream the relay filled, for several
//     worker counts.
func diagnose(ctx context.Context, log *slog.Logger, pg *devstack.Postgres, cfg config) error {
	for _, v := range []struct {
		name string
		opts ceilingOpts
	}{
		{"as in the main run (no NOTIFY trigger)", ceilingOpts{}},
		{"WITH the old outbox NOTIFY trigger", ceilingOpts{notify: true}},
		{"no NOTIFY, binary_parameters=yes (1 round trip per statement)", ceilingOpts{binaryParams: true}},
	} {
		stopWaits, err := waitSampler(ctx, pg)
		if err != nil {
			return err
		}
		res, err := measureRowOutboxTx(ctx, log, pg, cfg.producers, cfg.ceilingTime, v.opts)
		waits := stopWaits()
		if err != nil {
			return err
		}
		notef("diag ceiling row+outbox tx %s (%d workers): %s", v.name, cfg.producers, res)
		notef("diag   %s", waits)
	}
	for _, batch := range []int{1, 16} {
		stopWaits, err := waitSampler(ctx, pg)
		if err != nil {
			return err
		}
		res, err := measureConsumerTx(ctx, pg, cfg.producers, batch, cfg.ceilingTime)
		waits := stopWaits()
		if err != nil {
			return err
		}
		notef("diag consumer tx alone (processed_events + effect, %d events/tx, %d workers): %.0f events/s; %s",
			batch, cfg.producers, res.rate()*float64(batch), res)
		notef("diag   %s", waits)
	}
	stopWaits, err := waitSampler(ctx, pg)
	if err != nil {
		return err
	}
	tp, err := measureThroughput(ctx, log, pg, cfg)
	waits := stopWaits()
	if err != nil {
		return err
	}
	for _, l := range tp.notes {
		if !strings.HasPrefix(l, "  t=") {
			notef("diag %s", l)
		}
	}
	notef("diag   %s", waits)

	low := cfg
	low.latencyRate = envInt("CLINICOPS_BENCH_DIAG_RATE", 400)
	lat, err := measureLatency(ctx, log, pg, low)
	if err != nil {
		return err
	}
	for _, l := range lat.notes {
		notef("%s", "diag "+l)
	}

	r, err := newRig(ctx, log, pg)
	if err != nil {
		return err
	}
	defer r.close()
	n := int64(cfg.events)
	perEvent := func(u cpuUsage) string {
		return fmt.Sprintf("cpu per event: go process %.0f µs, postgres %.0f µs",
			float64(u.Self.Microseconds())/float64(n), float64(u.Postgres.Microseconds())/float64(n))
	}

	meter := newCPUMeter(pg)
	start := time.Now()
	if err := r.produceN(ctx, cfg.producers, n); err != nil {
		return err
	}
	took, usage := time.Since(start), meter.since()
	notef("diag producer alone (InTx: INSERT thing + Outbox.Publish, no relay running, %d workers): %d events in %.2fs = %.0f events/s; %s; %s",
		cfg.producers, n, took.Seconds(), float64(n)/took.Seconds(), usage, perEvent(usage))

	meter.reset()
	start = time.Now()
	if err := r.startRelay(); err != nil {
		return err
	}
	for r.relayed.Load() < n {
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("relay published %d of %d in 5 min", r.relayed.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	took, usage = time.Since(start), meter.since()
	notef("diag relay alone draining %d outbox rows: %.2fs = %.0f events/s; %s; %s; %s",
		n, took.Seconds(), float64(n)/took.Seconds(), r.batchStats(), usage, perEvent(usage))

	for _, w := range []int{4, 8, 16, 32} {
		r.scheduling.drop()
		if r.scheduling, err = freshDB(ctx, pg, "scheduling", 2*w+4, messaging.Migrations, consumerMigrations); err != nil {
			return err
		}
		r.consumed.Store(0)
		r.lastCommit.Store(0)
		meter.reset()
		start = time.Now()
		stop, err := r.startProcessor(ctx, fmt.Sprintf("sched_w%d", w), w)
		if err != nil {
			return err
		}
		if err := r.waitConsumed(ctx, n, 5*time.Minute); err != nil {
			return err
		}
		took, usage = time.Unix(0, r.lastCommit.Load()).Sub(start), meter.since()
		stop()
		notef("diag processor alone draining %d events, %2d workers: %.2fs = %.0f events/s; %s; %s",
			n, w, took.Seconds(), float64(n)/took.Seconds(), usage, perEvent(usage))
	}
	return nil
}
