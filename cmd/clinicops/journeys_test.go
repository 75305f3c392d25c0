package main

// Issue 10's end-to-end suite, first part: every path `clinicops demo`
// walks, through the four real services (real Postgres, an in-process
// JetStream, one dev clock), each ending with the invariants across the
// services, exactly as the demo prints them.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/cmd/clinicops/internal/journey"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
)

func TestJourneys(t *testing.T) {
	t.Parallel()
	for _, path := range journey.Paths {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			d, monitor := startMonitoredJourney(t)
			var out bytes.Buffer
			err := demo(context.Background(), d, path, monitor, &out)
			t.Log("\n" + out.String())
			require.NoError(t, err)
			require.NotContains(t, out.String(), "FAIL")
		})
	}
}

// TestDemoAgainOnTheSameSystem: `clinicops demo` walked twice against one
// running system, as a person trying it would, passes both times: the
// second patient has the same name and birth date (found when a fixed demo
// phone number made intake refuse the second walk as a duplicate), and the
// second walk starts on a clock the first moved months ahead.
func TestDemoAgainOnTheSameSystem(t *testing.T) {
	t.Parallel()
	d, monitor := startMonitoredJourney(t)
	for i := range 2 {
		var out bytes.Buffer
		err := demo(context.Background(), d, "happy", monitor, &out)
		require.NoError(t, err, "walk %d:\n%s", i+1, out.String())
	}
}

// The happy path under a crash: the whole system (`clinicops dev` and its
// PostgreSQL) is killed with SIGKILL just after the first infusion, while
// its events are on their way to billing and follow-up, and started again
// on the same data. The journey goes on against the restarted system and
// every invariant holds: nothing the crash interrupted was lost or done
// twice.
func TestJourneyAcrossAKill9(t *testing.T) {
	t.Parallel()
	k := startKillable(t)
	tokens := readTokens(t, filepath.Join(k.work, "data", "dev-tokens.env"))
	hc := &http.Client{Timeout: 10 * time.Second}
	d := &journey.Driver{HTTP: hc, Intake: "http://" + k.addrs["intake"], Scheduling: "http://" + k.addrs["scheduling"],
		Billing: "http://" + k.addrs["billing"], Followup: "http://" + k.addrs["followup"], Tokens: tokens, Timeout: 60 * time.Second,
		Clock:  journey.DevEndpoint{URL: fmt.Sprintf("http://127.0.0.1:%d/dev/clock", k.devPort), AdminToken: tokens[httpx.RoleAdmin], HTTP: hc},
		OnWait: func(w journey.Wait) { t.Logf("waited %s for: %s", w.Took.Round(time.Millisecond), w.What) }}
	crashed := false
	var killedAt time.Time
	out, err := d.Walk(context.Background(), "happy", "乙", func(s journey.Step) {
		t.Logf("%-10s %s (%s)", s.Service, s.What, s.Took.Round(time.Millisecond))
		if !crashed && strings.Contains(s.What, "infuses (cycle 1)") {
			crashed, killedAt = true, time.Now()
			k.crash(t)
			t.Logf("killed -9 and restarted in %s", time.Since(killedAt).Round(time.Millisecond))
		}
	})
	require.NoError(t, err)
	require.True(t, crashed)
	for _, c := range d.Invariants(context.Background(), out, fmt.Sprintf("http://127.0.0.1:%d", k.natsMonitorPort)) {
		require.NoError(t, c.Err, c.Name)
	}
	// The crash caught work in flight: some event was handled only after it.
	dbs := openServiceDBs(t, k.pgPort)
	defer closeDBs(dbs)
	after := 0
	for _, db := range []string{"billing", "followup"} {
		after += count(t, dbs[db], `SELECT count(*) FROM processed_events WHERE processed_at > $1`, killedAt)
	}
	require.Positive(t, after, "no event was handled after the restart")
}

// The happy path under the other faults, each struck just after the first
// infusion, while its events are on their way to billing and follow-up:
//   - NATS shut down under the services and started again on its store;
//   - billing's database dropping every connection and refusing new ones
//     for two seconds (a restart, as billing sees it);
//   - billing's infusion consumer failing for a while: its first three
//     deliveries of each event commit and then fail before the ack, so
//     every one is delivered again. (Breaking processed_events' dedup alone
//     does not fail it: billing's recognition is also keyed by the
//     appointment, a second guard.)
//
// Every invariant holds after each.
func TestJourneysUnderFaults(t *testing.T) {
	t.Parallel()
	type fault struct {
		opts []func(*platform.Options)
		// strike breaks something; the channel, if any, is closed when
		// the fault is over (the invariants are about after it).
		strike func(t *testing.T, svcs []*testharness.Service) <-chan struct{}
		check  func(t *testing.T)
	}
	var failures atomic.Int64
	faults := map[string]fault{
		"nats-restarted": {strike: func(t *testing.T, svcs []*testharness.Service) <-chan struct{} {
			require.NoError(t, svcs[0].NATS.Server.Restart())
			return nil
		}},
		"billing-db-restarted": {strike: func(t *testing.T, svcs []*testharness.Service) <-chan struct{} {
			return outage(t, svcs[2].DB, 2*time.Second)
		}},
		"consumer-failing": {
			opts: []func(*platform.Options){func(o *platform.Options) {
				seen := map[string]int{}
				var mu sync.Mutex
				o.Processor.AfterCommit = func(consumer, eventID string) error {
					if consumer != "billing_appointment_completed" {
						return nil
					}
					mu.Lock()
					defer mu.Unlock()
					if seen[eventID]++; seen[eventID] <= 3 {
						failures.Add(1)
						return errors.New("injected: failing after commit, before the ack")
					}
					return nil
				}
			}},
			check: func(t *testing.T) { require.Positive(t, failures.Load(), "the consumer never failed") },
		},
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, svcs := startJourneyStack(t, f.opts...)
			d.Timeout = 60 * time.Second
			struck := false
			var over <-chan struct{}
			out, err := d.Walk(context.Background(), "happy", "丙", func(s journey.Step) {
				if !struck && strings.Contains(s.What, "infuses (cycle 1)") && f.strike != nil {
					struck = true
					over = f.strike(t, svcs)
				}
			})
			require.NoError(t, err)
			if over != nil {
				<-over // the invariants are about after the fault
			}
			for _, c := range d.Invariants(context.Background(), out, svcs[0].NATS.MonitorURL()) {
				require.NoError(t, c.Err, c.Name)
			}
			if f.check != nil {
				f.check(t)
			}
		})
	}
}

// outage makes db's database drop every connection and refuse new ones
// for d, as a restart of its server would; the channel is closed when it
// accepts connections again.
func outage(t *testing.T, db *sqlx.DB, d time.Duration) <-chan struct{} {
	t.Helper()
	var name string
	require.NoError(t, db.Get(&name, `SELECT current_database()`))
	admin, err := sql.Open("postgres", testharness.Cluster(t).DSN("postgres"))
	require.NoError(t, err)
	_, err = admin.Exec(`ALTER DATABASE ` + pq.QuoteIdentifier(name) + ` WITH ALLOW_CONNECTIONS false`)
	require.NoError(t, err)
	_, err = admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name)
	require.NoError(t, err)
	over := make(chan struct{})
	time.AfterFunc(d, func() {
		defer close(over)
		defer func() { _ = admin.Close() }()
		_, err := admin.Exec(`ALTER DATABASE ` + pq.QuoteIdentifier(name) + ` WITH ALLOW_CONNECTIONS true`)
		if err != nil {
			t.Errorf("end the outage of %s: %v", name, err)
		}
	})
	return over
}

// Many journeys at once: 50 patients enrolled together and walked through
// every cycle of their courses on one clock, as a clinic's days go (the
// clock moves to the next appointment anyone has; whoever's turn it is acts
// concurrently). The seeded clinic cultures 8 at a time, so the plans
// spread over months: the planning horizon is widened for the crowd. Every
// invariant holds for every patient.
//
// Not parallel with the other tests: 50 journeys take the machine's two
// cores, and the crash tests need some left to land their kills mid-flight.
func TestManyJourneysAtOnce(t *testing.T) {
	const patients = 50
	wider := func(o *platform.Options) { testharness.WithEnv(map[string]string{"SCHEDULING_HORIZON": "8760h"})(o) }
	d, svcs := startJourneyStack(t, wider)
	d.Timeout, d.OnWait = 60*time.Second, nil
	began := time.Now()
	outs, err := d.WalkMany(context.Background(), patients)
	require.NoError(t, err)
	t.Logf("%d patients through %d cycles each in %s", patients, outs[0].Cycles, time.Since(began).Round(time.Millisecond))
	for _, out := range outs {
		require.Equal(t, "completed", out.Ended)
		for _, c := range d.Invariants(context.Background(), out, "") {
			require.NoError(t, c.Err, "patient %s: %s", out.Patient.ID, c.Name)
		}
	}
	caught := d.Invariants(context.Background(), outs[0], svcs[0].NATS.MonitorURL())
	require.NoError(t, caught[len(caught)-1].Err, caught[len(caught)-1].Name)
}
