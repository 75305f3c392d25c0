package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/riverqueue/river"

	"github.com/clinicops/clinicops/pkg/devstack"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/pgdb"
)

// BenchmarkReminders100k: 100,000 reminders come due at once and the
// followup binary (services/followup/cmd/followup, a separate process)
// sends them through its SMTP channel to a local SMTP sink. The figure is
// the time from the commit that made them due to the last message the sink
// accepted. Then again with the process killed (SIGKILL) when about half
// are sent and started again: the sink counts the patients who got a
// reminder twice under different Message-IDs (dup), the messages resent
// under a Message-ID it had already accepted, and the reminders it never
// accepted (lost).
//
// The clean phase is cut at CLINICOPS_BENCH_REMINDERS_WAIT (default 3m),
// and then reports how far it got and the time projected at its rate; the
// kill phase runs
// CLINICOPS_BENCH_REMINDERS_KILL reminders (default 10000) to completion.
// CLINICOPS_BENCH_REMINDERS sets the clean phase's count (default 100000).
func BenchmarkReminders100k(b *testing.B) {
	ctx := context.Background()
	log := logger()
	n := envInt("CLINICOPS_BENCH_REMINDERS", 100_000)
	wait := envDuration("CLINICOPS_BENCH_REMINDERS_WAIT", 3*time.Minute)
	nKill := envInt("CLINICOPS_BENCH_REMINDERS_KILL", 10_000)
	pg, js := startStack(b, log)
	bin := buildFollowup(b)
	sink := startSMTPSink(b)

	smtpCeiling, err := measureSMTPCeiling(sink, followupSMTPConns, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	txCeiling, err := measureRowOutboxTx(ctx, log, pg, jobs.DefaultMaxWorkers, 5*time.Second, ceilingOpts{})
	if err != nil {
		b.Fatal(err)
	}
	notef("ceiling: bare SMTP to the sink over %d connections: %.0f msg/s; row+outbox tx at %d clients: %s",
		followupSMTPConns, smtpCeiling, jobs.DefaultMaxWorkers, txCeiling)
	notef("limits: followup's defaults: River queue %q of FOLLOWUP_JOB_WORKERS (400) workers, poll %s, fetch cooldown 100 ms; a pool of 20 connections; FOLLOWUP_SMTP_MAX_CONNS=%d",
		river.QueueDefault, jobs.DefaultFetchPollInterval, followupSMTPConns)

	clean := runReminderPhase(b, log, pg, js, bin, sink, "followup_bench", n, wait, false)
	notef("%s", clean.detail)
	rate := float64(clean.accepted) / clean.seconds
	ratios := fmt.Sprintf("%.0f/s; ceilings: smtp %.0f/s ratio=%.3f, row+outbox tx %.0f/s ratio=%.3f",
		rate, smtpCeiling, rate/smtpCeiling, txCeiling.rate(), rate/txCeiling.rate())
	if clean.complete {
		fmt.Printf("BENCH reminders_100k_seconds %.1f dup=%d lost=%d (n=%d, %s; resent with a Message-ID already accepted: %d)\n",
			clean.seconds, clean.dup, clean.lost, n, ratios, clean.resent)
	} else {
		// Not lost: still queued when the phase was cut.
		fmt.Printf("BENCH reminders_100k_seconds %.0f(projected) dup=%d lost=- (cut at %s: %d of %d sent, %s)\n",
			float64(n)/rate, clean.dup, wait, clean.accepted, n, ratios)
	}

	killed := runReminderPhase(b, log, pg, js, bin, sink, "followup_bench_kill", nKill, 15*time.Minute, true)
	notef("%s", killed.detail)
	fmt.Printf("BENCH reminders_kill_seconds %.1f dup=%d lost=%d (n=%d, kill -9 at half, restart; %d jobs the killed process held, given back by River after FOLLOWUP_JOB_RESCUE_AFTER=20s; %d messages resent with the Message-ID of one already accepted, which a receiver honouring Message-ID drops)\n",
		killed.seconds, killed.dup, killed.lost, nKill, killed.stuck, killed.resent)
}

// followupSMTPConns is FOLLOWUP_SMTP_MAX_CONNS for the bench, and the
// connections the SMTP ceiling is measured over. Ten carry far more than
// the engine sends (the ceiling is over 10,000 messages a second), so the
// workers do not wait on them.
const followupSMTPConns = 10

// phaseResult is what one phase measured.
type phaseResult struct {
	complete bool    // every reminder accepted within the wait
	seconds  float64 // due (seed commit) -> last message accepted
	accepted int     // distinct reminders accepted by the sink
	// dup: reminders a patient received twice as different messages (a
	// second Message-ID to the same recipient), what even a receiver that
	// honours Message-ID delivers twice.
	dup int
	// resent: messages accepted again with a Message-ID already accepted:
	// the same reminder sent again with its idempotency key after a crash,
	// which such a receiver drops.
	resent int
	lost   int // reminders the sink never accepted
	// stuck: jobs the killed process held, left 'running' until River's
	// rescuer gave them back (kill phase).
	stuck  int
	detail string
}

// runReminderPhase runs one phase in its own database: start the binary,
// make n reminders due in one transaction, wait until the sink accepted
// them all (or wait passed); with kill, SIGKILL the process at n/2 accepted
// and start it again.
func runReminderPhase(b *testing.B, log *slog.Logger, pg *devstack.Postgres, js *jsServer, bin string,
	sink *smtpSink, dbName string, n int, wait time.Duration, kill bool) phaseResult {
	b.Helper()
	ctx := context.Background()
	if err := pg.DropDatabase(ctx, dbName); err != nil {
		b.Fatal(err)
	}
	if err := pg.CreateDatabase(ctx, dbName, ""); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pg.DropDatabase(context.Background(), dbName) })
	sink.reset()
	env := followupEnv(pg.DSN(dbName), js.srv.ClientURL(), sink.addr)
	proc := startFollowup(b, bin, env)
	db, err := pgdb.Open(ctx, pg.DSN(dbName), pgdb.PoolConfig{MaxOpenConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := waitReady(ctx, db, proc, time.Minute); err != nil {
		b.Fatal(err)
	}
	seedStart := time.Now()
	ids, dueAt, err := seedReminders(ctx, log, db, n)
	if err != nil {
		b.Fatal(err)
	}
	seeded := dueAt.Sub(seedStart)
	deadline := dueAt.Add(wait)
	var killedAt time.Duration
	stuck := 0
	if kill {
		if !waitAccepted(sink, n/2, deadline) {
			proc.stop()
			b.Fatalf("kill phase: %d of %d accepted by the deadline, never reached half", sink.distinct(), n)
		}
		proc.kill()
		killedAt = time.Since(dueAt)
		// Every job still 'running' now was the dead process's.
		if err := db.GetContext(ctx, &stuck, `SELECT count(*) FROM river_job WHERE state = 'running'`); err != nil {
			b.Fatal(err)
		}
		proc = startFollowup(b, bin, env)
	}
	complete := waitDone(ctx, db, sink, n, deadline)
	if kill {
		// What the killed process held comes back two ways: sends it left
		// 'sending' are resumed by the restarted process's sweep (after the
		// send timeout), and jobs it had taken are rescued by River (after
		// FOLLOWUP_JOB_RESCUE_AFTER, on the leader's next rescuer pass).
		// Wait for both, bounded, before counting.
		complete = waitSettled(ctx, db, sink, n, time.Now().Add(3*time.Minute))
	}
	res := sink.tally(ids)
	res.complete, res.stuck = complete, stuck
	res.seconds = sink.last().Sub(dueAt).Seconds()
	proc.stop()
	var attempts, inDoubt, sending, scheduled int
	_ = db.GetContext(ctx, &attempts, `SELECT count(*) FROM reminder_attempts`)
	_ = db.GetContext(ctx, &inDoubt, `SELECT count(*) FROM reminder_attempts WHERE status = 'in_doubt'`)
	_ = db.GetContext(ctx, &sending, `SELECT count(*) FROM reminder_attempts WHERE status = 'sending'`)
	_ = db.GetContext(ctx, &scheduled, `SELECT count(*) FROM reminders WHERE status = 'scheduled'`)
	res.detail = fmt.Sprintf("%s: seeded %d due reminders in %.1fs; complete=%v; accepted %d distinct, %d messages, last at %.1fs; killed at %.1fs; at the end: attempts %d (in_doubt %d, still sending %d), reminders still scheduled %d; jobs the kill left running %d",
		dbName, n, seeded.Seconds(), complete, res.accepted, res.accepted+res.resent, res.seconds, killedAt.Seconds(),
		attempts, inDoubt, sending, scheduled, res.stuck)
	return res
}

// followupEnv configures the binary: e-mail first, quiet hours off, a stale
// limit far above the run, and the SMTP channel pointed at the sink.
func followupEnv(dsn, natsURL, smtpAddr string) []string {
	return append(os.Environ(),
		"FOLLOWUP_DATABASE_URL="+dsn,
		"NATS_URL="+natsURL,
		"FOLLOWUP_HTTP_ADDR=127.0.0.1:0",
		"FOLLOWUP_CHANNEL_PREFERENCE=email",
		"FOLLOWUP_QUIET_HOURS=off",
		"FOLLOWUP_REMINDER_STALE_AFTER=6h",
		// A short send timeout: the sweep that resumes sends a crash left
		// runs every send timeout, so the kill phase sees it within seconds.
		"FOLLOWUP_SEND_TIMEOUT=5s",
		// River gives back a killed process's jobs after this (5m by
		// default), so the kill phase counts after the rescue.
		"FOLLOWUP_JOB_TIMEOUT=15s",
		"FOLLOWUP_JOB_RESCUE_AFTER=20s",
		"FOLLOWUP_SMTP_ADDR="+smtpAddr,
		"FOLLOWUP_SMTP_FROM=Clinic <noreply@clinic.test>",
		"FOLLOWUP_SMTP_SKIP_STARTTLS=true",
		"FOLLOWUP_SMTP_MAX_CONNS="+strconv.Itoa(followupSMTPConns),
		"LOG_LEVEL=warn",
		// The API is not used; the service refuses to start without a token.
		"CLINICOPS_AUTH_TOKENS=admin:"+httpx.HashToken(httpx.GenerateToken()),
	)
}

// buildFollowup builds the service binary once per run.
func buildFollowup(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "followup")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/followup")
	cmd.Dir = filepath.Join("..", "..", "..", "services", "followup")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("go build followup: %v", err)
	}
	return out
}

// followupProc is one run of the binary.
type followupProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exited
	err  error         // cmd.Wait's, once done
}

func startFollowup(b *testing.B, bin string, env []string) *followupProc {
	b.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// The service dies with the bench, even when the bench is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start followup: %v", err)
	}
	p := &followupProc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	b.Cleanup(p.kill)
	return p
}

// kill is kill -9.
func (p *followupProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop is a graceful stop (SIGTERM), SIGKILL after 30 s.
func (p *followupProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// waitReady waits until the process has migrated its database (River's
// tables exist) and its queue runs (a River leader or producer row).
func waitReady(ctx context.Context, db *sqlx.DB, p *followupProc, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("followup exited at start: %v", p.err)
		default:
		}
		var n int
		if err := db.GetContext(ctx, &n, `SELECT count(*) FROM river_leader`); err == nil && n > 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("followup not ready within " + within.String())
}

// Seed statements: what followup's event handlers write for a patient with
// an e-mail consent and a booked visit tomorrow, and the visit's reminder,
// due now (store.go, contacts.go, visits.go).
const (
	seedContacts = `INSERT INTO patient_contacts (patient_id, phone, email, preferred_language, version, updated_at)
		SELECT p, '+8613800138000', 'patient-' || p || '@example-clinic-patients.cn', 'zh-CN', 1, $2
		FROM unnest($1::uuid[]) p`
	seedConsents = `INSERT INTO channel_consents (consent_id, patient_id, channel, active, version, updated_at)
		SELECT gen_random_uuid(), p, 'email', true, 1, $2 FROM unnest($1::uuid[]) p`
	seedVisits = `INSERT INTO visits (appointment_id, patient_id, course_id, kind, start_at, end_at, patient_present, status, version, updated_at)
		SELECT p, p, NULL, 'consultation', $2::timestamptz + interval '24 hours', $2::timestamptz + interval '25 hours', true, 'booked', 1, $2
		FROM unnest($1::uuid[]) p`
	seedReminderRows = `INSERT INTO reminders (reminder_id, appointment_id, patient_id, kind, occurrence_start, due_at, status, job_version, version, updated_at)
		SELECT r, p, p, 'visit_24h', $3::timestamptz + interval '24 hours', $3, 'scheduled', 1, 1, $3
		FROM unnest($1::uuid[], $2::uuid[]) AS t(r, p)`
	setJobIDs = `UPDATE reminders SET job_id = t.j FROM unnest($1::uuid[], $2::bigint[]) AS t(r, j) WHERE reminder_id = t.r`
)

// benchReminderArgs is followup's adapters.ReminderArgs (internal to its
// module): the same kind and JSON, so the service's worker takes the jobs.
type benchReminderArgs struct {
	ReminderID uuid.UUID `json:"reminder_id" river:"unique"`
	Version    int64     `json:"version" river:"unique"`
}

func (benchReminderArgs) Kind() string { return "followup.reminder" }

// neverWorker satisfies River's check that an inserted kind has a worker;
// the inserting client never runs.
type neverWorker struct {
	river.WorkerDefaults[benchReminderArgs]
}

func (neverWorker) Work(context.Context, *river.Job[benchReminderArgs]) error {
	return errors.New("the bench only inserts")
}

// seedReminders makes n reminders due in one transaction: contacts,
// consents, visits, reminders and their River jobs (InsertManyTx, with the
// unique options the store uses), all due at the transaction's time. It
// returns the reminder ids and the commit time.
func seedReminders(ctx context.Context, log *slog.Logger, db *sqlx.DB, n int) ([]uuid.UUID, time.Time, error) {
	ws := river.NewWorkers()
	river.AddWorker(ws, &neverWorker{})
	client, err := jobs.New(jobs.Config{DB: db, Log: log, Workers: ws, LeaderElectionDisabled: true})
	if err != nil {
		return nil, time.Time{}, err
	}
	ids := make([]uuid.UUID, n)
	patients := make([]uuid.UUID, n)
	for i := range ids {
		ids[i], patients[i] = uuid.New(), uuid.New()
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	const batch = 10_000
	err = pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		for lo := 0; lo < n; lo += batch {
			hi := min(lo+batch, n)
			if err := seedBatch(ctx, tx, client, ids[lo:hi], patients[lo:hi], now); err != nil {
				return err
			}
		}
		// Statistics as autovacuum would have left them in a clinic whose
		// tables grew over months, committed with the rows (ANALYZE counts
		// its own transaction's rows): planned against empty tables, the
		// sender's batched reads took a hashed plan over all 100,000
		// consents, 50 ms a batch (pg_stat_statements).
		_, err := tx.ExecContext(ctx, `ANALYZE patient_contacts, channel_consents, visits, reminders, reminder_attempts, river_job`)
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("seed reminders: %w", err)
	}
	return ids, time.Now(), nil
}

func seedBatch(ctx context.Context, tx *sqlx.Tx, client *jobs.Client, ids, patients []uuid.UUID, now time.Time) error {
	ps := uuidStrings(patients)
	for _, q := range []string{seedContacts, seedConsents, seedVisits} {
		if _, err := tx.ExecContext(ctx, q, ps, now); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, seedReminderRows, uuidStrings(ids), ps, now); err != nil {
		return err
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: benchReminderArgs{ReminderID: id, Version: 1},
			InsertOpts: &river.InsertOpts{ScheduledAt: now, UniqueOpts: river.UniqueOpts{ByArgs: true}}}
	}
	res, err := client.River().InsertManyTx(ctx, tx.Tx, params)
	if err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	jobIDs := make([]int64, len(res))
	for i, r := range res {
		jobIDs[i] = r.Job.ID
	}
	_, err = tx.ExecContext(ctx, setJobIDs, uuidStrings(ids), pq.Array(jobIDs))
	return err
}

func uuidStrings(ids []uuid.UUID) any {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return pq.Array(s)
}

// waitAccepted waits until the sink accepted n distinct messages.
func waitAccepted(sink *smtpSink, n int, deadline time.Time) bool {
	for sink.distinct() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// waitDone waits until the sink accepted n distinct messages, or no
// reminder job is left waiting to run and the sink has been quiet for 2 s
// (what remains is 'running' under a dead process), or the deadline. It
// asks the database only once the sink has been quiet for 2 s: counting
// river_job every 100 ms took 3.5 s of the database's time in a 60 s run.
func waitDone(ctx context.Context, db *sqlx.DB, sink *smtpSink, n int, deadline time.Time) bool {
	for sink.distinct() < n {
		if time.Now().After(deadline) {
			return false
		}
		if time.Since(sink.last()) > 2*time.Second {
			var pending int
			err := db.GetContext(ctx, &pending, `SELECT count(*) FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'pending')`)
			if err == nil && pending == 0 {
				return false
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// smtpSink is a local SMTP server that accepts everything and records each
// message's Message-ID and when it was accepted.
type smtpSink struct {
	addr string
	srv  *gosmtp.Server

	mu       sync.Mutex
	seen     map[string]int             // Message-ID -> messages accepted with it
	to       map[string]map[string]bool // recipient -> the Message-IDs it received
	messages int
	lastAt   time.Time
}

func startSMTPSink(b *testing.B) *smtpSink {
	b.Helper()
	s := &smtpSink{seen: map[string]int{}, to: map[string]map[string]bool{}}
	s.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &sinkSession{sink: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s.addr = l.Addr().String()
	go func() { _ = s.srv.Serve(l) }()
	b.Cleanup(func() { _ = s.srv.Close() })
	return s
}

func (s *smtpSink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen, s.to, s.messages, s.lastAt = map[string]int{}, map[string]map[string]bool{}, 0, time.Time{}
}

func (s *smtpSink) accept(id string, rcpts []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[id]++
	for _, r := range rcpts {
		if s.to[r] == nil {
			s.to[r] = map[string]bool{}
		}
		s.to[r][id] = true
	}
	s.messages++
	s.lastAt = time.Now()
}

func (s *smtpSink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *smtpSink) last() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAt
}

// tally counts, against the reminders made due: those accepted, those
// never accepted, the messages accepted again under a Message-ID already
// accepted (resent), and the recipients that got more than one Message-ID
// (dup: every seeded patient has an address of its own and one reminder).
func (s *smtpSink) tally(ids []uuid.UUID) phaseResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r phaseResult
	for _, id := range ids {
		if s.seen["<reminder-"+id.String()+"@clinicops.followup>"] > 0 {
			r.accepted++
		} else {
			r.lost++
		}
	}
	for _, c := range s.seen {
		r.resent += c - 1
	}
	for _, mids := range s.to {
		r.dup += len(mids) - 1
	}
	return r
}

type sinkSession struct {
	sink  *smtpSink
	rcpts []string
}

func (*sinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.rcpts = append(ss.rcpts, to)
	return nil
}
func (ss *sinkSession) Reset()     { ss.rcpts = nil }
func (*sinkSession) Logout() error { return nil }

// Data reads the headers only for the Message-ID; the message counts as
// accepted when Data returns nil (the 250 the client waits for).
func (ss *sinkSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, m.Body); err != nil {
		return err
	}
	id := strings.TrimSpace(m.Header.Get("Message-ID"))
	if id == "" {
		return errors.New("no Message-ID")
	}
	ss.sink.accept(id, ss.rcpts)
	return nil
}

// measureSMTPCeiling sends bare messages (net/smtp, one message per
// MAIL/RCPT/DATA on kept-open connections, as the channel does) to the sink
// for d over conns connections: the rate no reminder engine can beat here.
// The sink's counts are reset afterwards.
func measureSMTPCeiling(sink *smtpSink, conns int, d time.Duration) (float64, error) {
	defer sink.reset()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	errs := make(chan error, conns)
	start := time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(sink.addr)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = c.Quit() }()
			sent := 0
			for i := 0; time.Since(start) < d; i++ {
				if err := sendBare(c, fmt.Sprintf("<ceiling-%d-%d@bench>", w, i)); err != nil {
					errs <- err
					return
				}
				sent++
			}
			mu.Lock()
			total += sent
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("smtp ceiling: %w", err)
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

func sendBare(c *smtp.Client, id string) error {
	if err := c.Mail("noreply@clinic.test"); err != nil {
		return err
	}
	if err := c.Rcpt("patient@example-clinic-patients.cn"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	msg := "From: Clinic <noreply@clinic.test>\r\nTo: patient@example-clinic-patients.cn\r\nMessage-ID: " + id +
		"\r\nSubject: =?utf-8?q?=E5=B0=B1=E8=AF=8A=E6=8F=90=E9=86=92?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.Repeat("您预约的就诊时间是明天上午 9:30，请提前 15 分钟到达。\r\n", 4)
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

// waitSettled waits until the sink holds all n, no attempt is left
// 'sending' and no reminder job is left to run (the dead process's jobs
// rescued and worked), or the deadline; it reports whether all n were
// accepted.
func waitSettled(ctx context.Context, db *sqlx.DB, sink *smtpSink, n int, deadline time.Time) bool {
	for time.Now().Before(deadline) {
		var left int
		if err := db.GetContext(ctx, &left, `SELECT (SELECT count(*) FROM reminder_attempts WHERE status = 'sending')
			+ (SELECT count(*) FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running'))`); err == nil &&
			left == 0 && sink.distinct() >= n {
			return true
		}
		time.Sleep(500 * time.Millisecond)
	}
	return sink.distinct() >= n
}
