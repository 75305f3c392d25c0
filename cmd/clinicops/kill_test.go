package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/devstack"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// devProcess is `clinicops dev` running as a child process.
type devProcess struct {
	cmd *exec.Cmd
	log *os.File
}

func startDev(t *testing.T, bin string, args []string, logPath string) *devProcess {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"dev"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "NATS_URL=", "INTAKE_DATABASE_URL=", "SCHEDULING_DATABASE_URL=", "BILLING_DATABASE_URL=", "FOLLOWUP_DATABASE_URL=")
	require.NoError(t, cmd.Start())
	p := &devProcess{cmd: cmd, log: logf}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		_ = logf.Close()
	})
	return p
}

func readTokens(t *testing.T, path string) map[httpx.Role]string {
	t.Helper()
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = fh.Close() }()
	out := map[httpx.Role]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.HasPrefix(k, "CLINICOPS_TOKEN_") {
			out[httpx.Role(strings.ToLower(strings.TrimPrefix(k, "CLINICOPS_TOKEN_")))] = v
		}
	}
	return out
}

func waitReady(t *testing.T, addrs map[string]string, logPath string) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	for name, addr := range addrs {
		testharness.Eventually(t, 90*time.Second, func() bool {
			resp, err := hc.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, "%s not ready; log: %s", name, logPath)
	}
}

// TestKill9DuringBurstLosesNoAcknowledgedRegistration crashes everything in
// the middle of a burst of registrations: SIGKILL to PostgreSQL's postmaster
// and, at the same instant, to `clinicops dev` (which embeds NATS and the four
// services), before the postmaster's parent-death signal could turn the crash
// into a clean shutdown. It then restarts on the same data and checks that
//   - PostgreSQL went through crash recovery (its log says so);
//   - work was in flight at the kill: requests sent and not answered, and
//     registrations committed in intake that a consumer handled only after
//     the restart (processed_at later than the kill);
//   - every registration answered 201 is in intake once, every registration
//     intake committed is in the stream once and in each consumer's read
//     model once, each consumer handled each event once, and the consumers
//     are caught up; checked again once they have been idle a while.
func TestKill9DuringBurstLosesNoAcknowledgedRegistration(t *testing.T) {
	t.Parallel()
	k := startKillable(t)
	began, work, args, addrs, pgPort, natsPort := k.began, k.work, k.args, k.addrs, k.pgPort, k.natsPort
	bin, pgData, pgLog, logPath, first := k.bin, k.pgData, k.pgLog, k.logPath, k.proc
	c := client{http: &http.Client{Timeout: 5 * time.Second}, addrs: addrs, token: readTokens(t, filepath.Join(work, "data", "dev-tokens.env"))}
	dbs := openServiceDBs(t, pgPort)
	postmaster, err := devstack.PostmasterPID(pgData)
	require.NoError(t, err)
	require.NotZero(t, postmaster, "no postmaster serves %s", pgData)

	// The burst: 8 clients register until the processes die under them.
	var (
		mu       sync.Mutex
		created  []string
		n        atomic.Int64
		cutOff   atomic.Int64 // sent before the kill, never answered 201
		killedAt atomic.Pointer[time.Time]
		wg       sync.WaitGroup
	)
	killed := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				sent := time.Now()
				status, body, err := tryPost(c, newPatient(w*100000+i))
				if err == nil && status == http.StatusCreated {
					mu.Lock()
					created = append(created, body["id"].(string))
					mu.Unlock()
					n.Add(1)
					continue
				}
				if k := killedAt.Load(); k != nil && sent.Before(*k) {
					cutOff.Add(1)
				}
			}
		}()
	}
	// Kill once enough registrations are acknowledged and a consumer is seen
	// behind intake, so the crash lands in the middle of the pipeline's work.
	const killAt = 150
	var behind map[string]int
	testharness.Eventually(t, 60*time.Second, func() bool {
		if n.Load() < killAt {
			return false
		}
		behind = consumerLag(dbs)
		return len(behind) > 0
	}, "no consumer was ever behind intake")
	now := time.Now()
	killedAt.Store(&now)
	// Postmaster first: once clinicops dev is dead its parent-death signal
	// (SIGINT) would make the postmaster shut down cleanly.
	require.NoError(t, syscall.Kill(postmaster, syscall.SIGKILL))
	require.NoError(t, first.cmd.Process.Kill())
	require.NoError(t, devstack.KillCluster(pgData)) // the backends the postmaster left
	_ = first.cmd.Wait()
	close(killed)
	wg.Wait()
	closeDBs(dbs)
	t.Logf("kill at %s: %d registrations acknowledged before kill -9, %d requests cut off, consumers behind just before the kill: %v",
		time.Since(began).Round(time.Millisecond), len(created), cutOff.Load(), behind)
	// Usually some requests are cut off; on a starved machine every client
	// may be between requests at the kill instant (CI at 281a836: 0 of 8).
	// The crash still lands mid-pipeline: a consumer was behind (above) and
	// events are relayed and handled only after the restart (below).
	if cutOff.Load() == 0 {
		t.Log("no request was in flight at the kill this time; the pipeline was")
	}

	logOffset := fileSize(t, pgLog)
	startDev(t, bin, args, logPath)
	waitReady(t, addrs, logPath)
	t.Logf("ready again at %s", time.Since(began).Round(time.Millisecond))
	recovery := readFrom(t, pgLog, logOffset)
	require.Contains(t, recovery, "database system was not properly shut down; automatic recovery in progress",
		"postgres did not crash: its restart log ends:\n%s", tail(recovery, 20))
	require.Contains(t, recovery, "redo starts at", "crash recovery replayed no WAL")

	// Every acknowledged registration survived, once.
	for _, id := range created {
		st, _ := c.do(t, httpx.RoleFrontDesk, http.MethodGet, "intake", "/v1/patients/"+id, nil)
		require.Equal(t, http.StatusOK, st, "acknowledged registration %s lost", id)
	}
	dbs = openServiceDBs(t, pgPort)
	defer closeDBs(dbs)
	ack := map[string]bool{}
	for _, id := range created {
		require.False(t, ack[id], "registration %s answered 201 twice", id)
		ack[id] = true
	}
	intakeIDs := ids(t, dbs["intake"], `SELECT id::text FROM patients`)
	for _, id := range created {
		require.True(t, intakeIDs[id], "acknowledged registration %s lost", id)
	}
	// Committed but never answered: at most the requests cut off.
	require.LessOrEqual(t, len(intakeIDs)-len(created), int(cutOff.Load()))

	js := jetStream(t, natsPort)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // bounds the checks below, which may wait out an AckWait twice
	defer cancel()
	lastLag := map[string]string{}
	caughtUp := func() bool {
		for _, rm := range readModelTables {
			if n := len(ids(t, dbs[rm.db], rm.query)); n != len(intakeIDs) {
				lastLag[rm.consumer] = fmt.Sprintf("read model holds %d of %d", n, len(intakeIDs))
				return false
			}
			info, err := js.Consumer(ctx, "INTAKE", rm.consumer)
			if err != nil {
				lastLag[rm.consumer] = "consumer info: " + err.Error()
				return false
			}
			ci, err := info.Info(ctx)
			if err != nil || ci.NumPending != 0 || ci.NumAckPending != 0 {
				if err == nil {
					lastLag[rm.consumer] = fmt.Sprintf("pending %d, ack pending %d, redelivered %d, delivered %d/%d, ack floor %d/%d",
						ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.Delivered.Consumer, ci.Delivered.Stream, ci.AckFloor.Consumer, ci.AckFloor.Stream)
				}
				return false
			}
		}
		return true
	}
	testharness.Eventually(t, 30*time.Second, caughtUp, "consumers did not catch up")
	check := func() (afterKill int) {
		t.Helper()
		require.Equal(t, len(intakeIDs), streamCount(t, ctx, js, time.Time{}), "each registration in the stream once")
		for _, rm := range readModelTables {
			require.Equal(t, intakeIDs, ids(t, dbs[rm.db], rm.query), "%s's read model is intake's patients, each once", rm.db)
			require.Equal(t, len(intakeIDs), count(t, dbs[rm.db], `SELECT count(*) FROM processed_events WHERE consumer = $1`, rm.consumer),
				"%s handled each registration once", rm.consumer)
			afterKill += count(t, dbs[rm.db], `SELECT count(*) FROM processed_events WHERE consumer = $1 AND processed_at > $2`, rm.consumer, now)
		}
		return afterKill
	}
	afterKill := check()
	relayedAfter := streamCount(t, ctx, js, now)
	t.Logf("%s after the restart: %d registrations in intake (%d acknowledged), %d relayed only after the restart, %d consumer handlings only after the restart",
		time.Since(began).Round(time.Millisecond), len(intakeIDs), len(created), relayedAfter, afterKill)
	require.Positive(t, afterKill, "no event was still on its way to a consumer at the kill")

	// Idle for longer than a redelivery would take (AckWait 30 s is the
	// worst case; a redelivery after a restart comes at once): the same
	// again, and nothing moved.
	// A delivery the killed process never acked comes again only when its
	// AckWait (30 s) runs out, so allow for one more.
	idleUntil := time.Now().Add(3 * time.Second)
	testharness.Eventually(t, 45*time.Second, func() bool { return time.Now().After(idleUntil) && caughtUp() },
		"a consumer did not settle after the restart: %v", lastLag)
	require.Equal(t, afterKill, check(), "a consumer handled something again while idle")
}

// killable is `clinicops dev` as a child process on its own data directory
// and free ports, built from this package, so a test can kill -9 it (and
// its PostgreSQL) and start it again on the same data.
type killable struct {
	began                    time.Time
	work, bin                string
	args                     []string
	addrs                    map[string]string
	pgPort, natsPort         int
	devPort, natsMonitorPort int
	pgData, pgLog, logPath   string
	proc                     *devProcess
}

func startKillable(t *testing.T) *killable {
	t.Helper()
	testharness.Cluster(t) // makes sure the PostgreSQL server is installed
	work, err := os.MkdirTemp("", "clinicops-kill9-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(work, 0o755)) // the postgres OS user must reach the data dir
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(work, "dev.log")); err == nil {
				t.Logf("clinicops dev log (tail):\n%s", tail(string(b), 60))
			}
		}
		_ = devstack.KillCluster(filepath.Join(work, "data", "postgres"))
		_ = os.RemoveAll(work)
	})
	k := &killable{began: time.Now(), work: work, bin: filepath.Join(work, "clinicops")}
	build := exec.Command("go", "build", "-o", k.bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	base := freeRun(t, 4)
	k.pgPort, k.natsPort, k.devPort, k.natsMonitorPort = freePort(t), freePort(t), freePort(t), freePort(t)
	k.args = []string{"-data-dir", filepath.Join(work, "data"), "-base-port", strconv.Itoa(base),
		"-nats-port", strconv.Itoa(k.natsPort), "-nats-monitor-port", strconv.Itoa(k.natsMonitorPort), "-dev-port", strconv.Itoa(k.devPort),
		"-pg-port", strconv.Itoa(k.pgPort), "-log-level", "warn"}
	k.addrs = map[string]string{}
	for i, s := range services {
		k.addrs[s.Name] = "127.0.0.1:" + strconv.Itoa(base+i)
	}
	k.pgData = filepath.Join(work, "data", "postgres")
	k.pgLog = filepath.Join(k.pgData, "log", "postgres.log")
	k.logPath = filepath.Join(work, "dev.log")
	k.proc = startDev(t, k.bin, k.args, k.logPath)
	waitReady(t, k.addrs, k.logPath)
	return k
}

// crash kills the postmaster and `clinicops dev` with SIGKILL, as a power
// cut would, then starts it again on the same data and ports and checks
// PostgreSQL's log shows crash recovery. It returns when every service is
// ready.
func (k *killable) crash(t *testing.T) {
	t.Helper()
	postmaster, err := devstack.PostmasterPID(k.pgData)
	require.NoError(t, err)
	require.NotZero(t, postmaster, "no postmaster serves %s", k.pgData)
	// Postmaster first: once clinicops dev is dead its parent-death signal
	// (SIGINT) would make the postmaster shut down cleanly.
	require.NoError(t, syscall.Kill(postmaster, syscall.SIGKILL))
	require.NoError(t, k.proc.cmd.Process.Kill())
	require.NoError(t, devstack.KillCluster(k.pgData)) // the backends the postmaster left
	_ = k.proc.cmd.Wait()
	offset := fileSize(t, k.pgLog)
	k.proc = startDev(t, k.bin, k.args, k.logPath)
	waitReady(t, k.addrs, k.logPath)
	recovery := readFrom(t, k.pgLog, offset)
	require.Contains(t, recovery, "database system was not properly shut down; automatic recovery in progress",
		"postgres did not crash: its restart log ends:\n%s", tail(recovery, 20))
	require.Contains(t, recovery, "redo starts at", "crash recovery replayed no WAL")
}

// readModelTables are the consumers' tables of patients, with the durable
// consumer that fills each.
var readModelTables = []struct{ db, query, consumer string }{
	{"scheduling", `SELECT patient_id::text FROM patients WHERE version = 1`, "scheduling_patient_registered"},
	{"billing", `SELECT patient_id::text FROM accounts WHERE version = 1`, "billing_patient_registered"},
	{"followup", `SELECT patient_id::text FROM patient_contacts WHERE version = 1`, "followup_patient_registered"},
}

// openServiceDBs connects to each service's database on the dev cluster.
func openServiceDBs(t *testing.T, pgPort int) map[string]*sql.DB {
	t.Helper()
	dbs := map[string]*sql.DB{}
	for _, s := range services {
		db, err := sql.Open("postgres", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=5", pgPort, s.Name))
		require.NoError(t, err)
		dbs[s.Name] = db
	}
	return dbs
}

func closeDBs(dbs map[string]*sql.DB) {
	for _, db := range dbs {
		_ = db.Close()
	}
}

// consumerLag counts intake's patients first and each read model after, so
// a positive difference is a lower bound on what that consumer had not
// applied yet at the time of its count. It returns the lagging ones.
func consumerLag(dbs map[string]*sql.DB) map[string]int {
	var patients int
	if err := dbs["intake"].QueryRow(`SELECT count(*) FROM patients`).Scan(&patients); err != nil {
		return nil
	}
	lag := map[string]int{}
	for _, rm := range readModelTables {
		var have int
		if err := dbs[rm.db].QueryRow(`SELECT count(*) FROM (` + rm.query + `) q`).Scan(&have); err != nil {
			return nil
		}
		if patients > have {
			lag[rm.db] = patients - have
		}
	}
	return lag
}

func ids(t *testing.T, db *sql.DB, query string) map[string]bool {
	t.Helper()
	rows, err := db.Query(query)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		require.False(t, out[id], "%s twice from %s", id, query)
		out[id] = true
	}
	require.NoError(t, rows.Err())
	return out
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(query, args...).Scan(&n))
	return n
}

func jetStream(t *testing.T, port int) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// streamCount counts the PatientRegistered messages in INTAKE stored at or
// after since (all of them for the zero time).
func streamCount(t *testing.T, ctx context.Context, js jetstream.JetStream, since time.Time) int {
	t.Helper()
	cfg := jetstream.ConsumerConfig{FilterSubject: "clinicops.intake.v1.PatientRegistered", AckPolicy: jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	cons, err := js.CreateConsumer(ctx, "INTAKE", cfg)
	require.NoError(t, err)
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	require.NoError(t, js.DeleteConsumer(ctx, "INTAKE", info.Name))
	return int(info.NumPending)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

func readFrom(t *testing.T, path string, offset int64) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b[offset:])
}

func tryPost(c client, body map[string]any) (int, map[string]any, error) {
	return postJSON(c.http, "http://"+c.addrs["intake"]+"/v1/patients", c.token[httpx.RoleFrontDesk], body)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
