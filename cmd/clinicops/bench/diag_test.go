package bench

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/clinicops/clinicops/pkg/devstack"
	"github.com/clinicops/clinicops/pkg/messaging"
)

// diagnose runs each stage of the pipeline alone (CLINICOPS_BENCH_DIAG=1),
// so that the pipeline's figure can be split into what each stage costs:
//
//   - the row+outbox ceiling again, with the outbox's NOTIFY trigger kept;
//   - the producer alone (messaging.Outbox.Publish, trigger kept, no relay);
//   - the relay alone, draining the outbox the producer left;
//   - the processor alone, draining the stream the relay filled, for several
//     worker counts.
func diagnose(ctx context.Context, b *testing.B, log *slog.Logger, pg *devstack.Postgres, cfg config) error {
	withNotify, err := measureRowOutboxTx(ctx, log, pg, cfg.producers, cfg.ceilingTime, true)
	if err != nil {
		return err
	}
	b.Logf("diag ceiling row+outbox tx WITH the outbox NOTIFY trigger (%d workers): %s", cfg.producers, withNotify)

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
	b.Logf("diag producer alone (InTx: INSERT thing + Outbox.Publish, NOTIFY trigger, %d workers): %d events in %.2fs = %.0f events/s; %s; %s",
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
	b.Logf("diag relay alone draining %d outbox rows: %.2fs = %.0f events/s; %s; %s; %s",
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
		b.Logf("diag processor alone draining %d events, %2d workers: %.2fs = %.0f events/s; %s; %s",
			n, w, took.Seconds(), float64(n)/took.Seconds(), usage, perEvent(usage))
	}
	return nil
}
