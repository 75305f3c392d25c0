package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/types/known/timestamppb"

	followupv1 "github.com/clinicops/clinicops/pkg/events/clinicops/followup/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// Sender delivers a reminder that came due. It is the engine behind
// ReminderWorker, in three steps so that a crash anywhere never sends twice
// through an idempotent channel and never loses a reminder:
//
//  1. The claim, one transaction: lock the visit, then the reminder (the
//     order the event handlers lock them in); check the reminder is still
//     scheduled for the visit's current start, the visit booked and its
//     course neither held nor cancelled; apply quiet hours, staleness and
//     consent; and commit the attempt as 'sending'. A move or cancel
//     commits either before the claim (the claim then sees it and sends
//     nothing) or after it (the reminder was already on its way).
//  2. The send, outside any transaction.
//  3. The record, one transaction: the attempt's outcome, the reminder's
//     status, and ReminderSent or ReminderFailed in the outbox.
//
// A reminder whose last attempt is still 'sending' when it is claimed again
// was being sent by a process that died: through an idempotent channel it
// is sent again with the same idempotency key; otherwise it is marked
// unknown and never resent. (One younger than a send can take is being
// sent by another worker right now: its claim waits.)
//
// The claim and the record each run in batches (sender_batch.go): the
// reminders that reach a step together share its transaction.
type Sender struct {
	DB     *sqlx.DB
	Outbox *messaging.Outbox
	// Channels by route: the contact channel a channel delivers for ("sms",
	// "email"), or "log", the make-run stand-in that serves any patient
	// who consented to some channel.
	Channels map[string]app.Channel
	// Preference is the order routes are tried in among those the patient
	// consented to.
	Preference []string
	Policy     reminder.Policy
	Now        func() time.Time
	// Location is the clinic's zone: the visit's time in the text, and
	// quiet hours for a patient whose own zone intake did not record.
	Location *time.Location
	// MaxAttempts: after this many failed attempts the reminder is failed.
	MaxAttempts int
	// SendTimeout bounds one Channel.Send.
	SendTimeout time.Duration
	// CheckInLink, if set, is the link a check-in's reminder carries for
	// the patient to answer through ("" for none), made at send time: it is
	// a credential, so it is not stored with the reminder.
	CheckInLink func(checkIn uuid.UUID, due time.Time) string
	// Hook, if set, is called between the steps (tests crash the sender
	// there by panicking).
	Hook func(step Step, reminderID uuid.UUID)

	stmts *pgdb.Statements // set by Prepare; nil runs the statements unprepared

	zones   sync.Map // IANA name -> *time.Location
	once    sync.Once
	claims  *batcher[claimReq, claimResult]
	records *batcher[recordReq, recordResult]
}

// Prepare prepares the statements every send runs; call it at start,
// before the sender works.
func (s *Sender) Prepare(ctx context.Context) error {
	stmts, err := pgdb.Prepare(ctx, s.DB, batchLockVisits, batchLockReminders, batchLastAttempts, batchCourseStatus,
		batchContacts, batchInsertAttempts, batchSetChannel, batchFinishSent, batchCloseSent, lockReminder, insertAttempt,
		finishAttempt, setReminderChannel, closeReminder, countAttempts, selectContactForUse)
	if err != nil {
		return fmt.Errorf("followup sender: %w", err)
	}
	s.stmts = stmts
	return nil
}

// Step is a point between the sender's steps.
type Step int

// Steps, in order.
const (
	BeforeClaim Step = iota // nothing done yet
	Claimed                 // inside the claim transaction, checks passed, attempt not yet written
	Sending                 // 'sending' committed, the message not yet handed to the channel
	Answered                // the channel answered, nothing recorded yet
	Recorded                // inside the record transaction, before its commit
	Done                    // the record committed
)

// Result says what became of a Deliver that returned no error.
type Result struct {
	// DeferUntil is set when quiet hours hold the reminder until then.
	DeferUntil time.Time
	// Retry is set when the attempt failed and another will be made.
	Retry error
}

// errGone: the attempt being recorded was settled by someone else (two
// workers on one reminder: River rescued a job whose worker still ran).
var errGone = errors.New("reminder gone")

type reminderRow struct {
	ReminderID      uuid.UUID      `db:"reminder_id"`
	AppointmentID   uuid.NullUUID  `db:"appointment_id"`
	PatientID       uuid.UUID      `db:"patient_id"`
	Kind            string         `db:"kind"`
	OccurrenceStart sql.NullTime   `db:"occurrence_start"`
	SubjectID       uuid.NullUUID  `db:"subject_id"`
	Step            int            `db:"step"`
	Details         []byte         `db:"details"`
	DueAt           time.Time      `db:"due_at"`
	Status          string         `db:"status"`
	Reason          sql.NullString `db:"reason"`
	Channel         sql.NullString `db:"channel"`
	JobID           sql.NullInt64  `db:"job_id"`
	JobVersion      int64          `db:"job_version"`
	Version         int64          `db:"version"`
	SentAt          sql.NullTime   `db:"sent_at"`
	UpdatedAt       time.Time      `db:"updated_at"`
}

type attemptRow struct {
	ReminderID   uuid.UUID      `db:"reminder_id"`
	Attempt      int            `db:"attempt"`
	Channel      string         `db:"channel"`
	Route        string         `db:"route"`
	Status       string         `db:"status"`
	Error        sql.NullString `db:"error"`
	VisitVersion int64          `db:"visit_version"`
	StartedAt    time.Time      `db:"started_at"`
	FinishedAt   sql.NullTime   `db:"finished_at"`
}

const (
	reminderColumns = `reminder_id, appointment_id, patient_id, kind, occurrence_start, due_at, status, reason, channel,
		job_id, job_version, version, sent_at, updated_at, subject_id, step, details`
	lockReminder  = `SELECT ` + reminderColumns + ` FROM reminders WHERE reminder_id = $1 FOR UPDATE`
	insertAttempt = `INSERT INTO reminder_attempts (reminder_id, attempt, channel, route, status, visit_version, started_at)
		VALUES ($1, $2, $3, $4, 'sending', $5, $6)`
	finishAttempt = `UPDATE reminder_attempts SET status = $3, error = $4, finished_at = $5
		WHERE reminder_id = $1 AND attempt = $2 AND status = 'sending'`
	setReminderChannel = `UPDATE reminders SET channel = $2, updated_at = $3 WHERE reminder_id = $1`
	// closeReminder ends only a scheduled reminder: a sent, skipped or
	// dropped one is never overwritten.
	closeReminder = `UPDATE reminders SET status = $2, reason = $3, version = version + 1, updated_at = $4,
		sent_at = CASE WHEN $2 = 'sent' THEN $4 ELSE sent_at END
		WHERE reminder_id = $1 AND status = 'scheduled' RETURNING version`
	countAttempts       = `SELECT count(*) FROM reminder_attempts WHERE reminder_id = $1`
	selectContactForUse = selectContact
)

// claim is what the claim step hands the send step.
type claim struct {
	done       bool // finished in the claim (nothing to send)
	deferUntil time.Time
	reminder   reminderRow
	attempt    int
	route      string
	ch         app.Channel
	msg        app.Message
}

// Deliver works the reminder's job of generation version.
func (s *Sender) Deliver(ctx context.Context, id uuid.UUID, version int64) (Result, error) {
	return s.deliver(ctx, id, version, time.Time{})
}

// deliver is Deliver; with stuckBefore set (the start sweep) it only
// resumes a reminder whose last attempt is 'sending' since before then.
func (s *Sender) deliver(ctx context.Context, id uuid.UUID, version int64, stuckBefore time.Time) (Result, error) {
	s.hook(BeforeClaim, id)
	s.once.Do(s.batchers)
	// A claim is not given up halfway because this job's context ends: the
	// batch holds other workers' reminders too.
	claimed, err := s.claims.do(context.WithoutCancel(ctx), claimReq{id: id, version: version, stuckBefore: stuckBefore})
	if err == nil {
		err = claimed.err
	}
	if err != nil {
		return Result{}, fmt.Errorf("claim reminder %s: %w", id, err)
	}
	c := claimed.claim
	if c.done || !c.deferUntil.IsZero() {
		return Result{DeferUntil: c.deferUntil}, nil
	}
	s.hook(Sending, id)
	sendCtx, cancel := context.WithTimeout(ctx, s.SendTimeout)
	sendErr := c.ch.Send(sendCtx, c.msg)
	cancel()
	s.hook(Answered, id)
	// The message may have left: record what the channel said even if the
	// worker is being stopped.
	recorded, err := s.records.do(context.WithoutCancel(ctx), recordReq{c: c, sendErr: sendErr})
	if err == nil {
		err = recorded.err
	}
	res := recorded.res
	if err != nil {
		return Result{}, fmt.Errorf("record reminder %s attempt %d: %w", id, c.attempt, err)
	}
	s.hook(Done, id)
	return res, nil
}

// zone is the patient's zone for quiet hours: name's, loaded once per
// process, or the clinic's when name is empty (or, against intake's
// validation, unknown here).
func (s *Sender) zone(name string) *time.Location {
	if name == "" {
		return s.Location
	}
	if loc, ok := s.zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return s.Location
	}
	s.zones.Store(name, loc)
	return loc
}

func (s *Sender) hook(step Step, id uuid.UUID) {
	if s.Hook != nil {
		s.Hook(step, id)
	}
}

// claim decides one reminder of a claim batch, from what the batch read
// and locked (set); a new attempt is added to set's writes, which the batch
// then writes for all its reminders at once.
func (s *Sender) claim(ctx context.Context, tx *sqlx.Tx, set *claimSet, req claimReq) (claim, error) {
	id := req.id
	r, ok := set.reminders[id]
	if !ok {
		return claim{done: true}, nil // gone
	}
	if set.taken[id] {
		return claim{done: true}, nil // twice in one batch (a rescued job and its original): one sends
	}
	set.taken[id] = true
	var visit *reminder.Visit
	if r.AppointmentID.Valid {
		v, ok := set.visits[r.AppointmentID.UUID]
		if !ok {
			return claim{}, fmt.Errorf("reminder %s: its visit %s is not stored", id, r.AppointmentID.UUID)
		}
		visit = &v
	}
	c := claim{reminder: r}
	if r.JobVersion != req.version || r.Status != string(reminder.Scheduled) {
		return claim{done: true}, nil // dropped, or a job of an older schedule
	}
	last := set.last(id)
	stuckBefore := req.stuckBefore
	if !stuckBefore.IsZero() && (last == nil || last.Status != "sending" || !last.StartedAt.Before(stuckBefore)) {
		return claim{done: true}, nil // not stuck (any more): its job works it
	}
	invalid := set.invalid(r, visit)
	if last != nil && last.Status == "sending" {
		if stuckBefore.IsZero() && s.Now().Sub(last.StartedAt) < s.SendTimeout {
			// Younger than a send can take: another worker is sending it
			// now (River ran the job twice). Look again once that send must
			// have settled; if its process died instead, this job, or the
			// sweep, resumes it then.
			return claim{deferUntil: last.StartedAt.Add(s.SendTimeout)}, nil
		}
		return s.recover(ctx, tx, c, visit, *last, invalid)
	}
	now := s.Now()
	if invalid != "" {
		return claim{done: true}, s.close(ctx, tx, r, reminder.Cancelled, invalid, nil, now)
	}
	cr, found := set.contacts[r.PatientID]
	who := toDomainContact(cr)
	// Quiet hours where the patient is.
	d := s.Policy.Decide(now, r.DueAt, visitStart(visit), s.zone(who.TimeZone))
	if d.Skip != "" {
		return claim{done: true}, s.close(ctx, tx, r, reminder.Skipped, d.Skip, nil, now)
	}
	if !d.DeferUntil.IsZero() {
		return claim{deferUntil: d.DeferUntil}, nil
	}
	route, ch, reason := s.pick(who, found)
	if reason != "" {
		return claim{done: true}, s.close(ctx, tx, r, reminder.Skipped, reason, nil, now)
	}
	s.hook(Claimed, id)
	c.attempt = 1
	if last != nil {
		c.attempt = last.Attempt + 1
	}
	c.route, c.ch = route, ch
	var err error
	if c.msg, err = s.message(r, visit, who, route); err != nil {
		return claim{}, err
	}
	set.start(c, visitVersion(visit))
	return c, nil
}

// recover handles a reminder whose last attempt was left 'sending' by a
// process that died mid-send.
func (s *Sender) recover(ctx context.Context, tx *sqlx.Tx, c claim, visit *reminder.Visit, last attemptRow, invalid string) (claim, error) {
	now := s.Now()
	r := c.reminder
	ch := s.Channels[last.Route]
	if invalid == "" && ch != nil && ch.Idempotent() {
		// The same idempotency key: the channel delivers it at most once.
		if _, err := s.stmts.Exec(ctx, tx, finishAttempt, r.ReminderID, last.Attempt, "in_doubt",
			"the process stopped during the send; sent again with the same key", now); err != nil {
			return claim{}, fmt.Errorf("attempt in doubt: %w", err)
		}
		var cr contactRow
		if err := s.stmts.Get(ctx, tx, &cr, selectContactForUse, r.PatientID); err != nil {
			return claim{}, fmt.Errorf("contact: %w", err)
		}
		c.attempt, c.route, c.ch = last.Attempt+1, last.Route, ch
		var err error
		if c.msg, err = s.message(r, visit, toDomainContact(cr), last.Route); err != nil {
			return claim{}, err
		}
		return c, s.startAttempt(ctx, tx, c, visitVersion(visit), now)
	}
	const msg = "the process stopped during the send; the channel takes no idempotency key, so it is not resent"
	if _, err := s.stmts.Exec(ctx, tx, finishAttempt, r.ReminderID, last.Attempt, "unknown", msg, now); err != nil {
		return claim{}, fmt.Errorf("attempt unknown: %w", err)
	}
	failed := &followupv1.ReminderFailed{Status: string(reminder.Unknown), Channel: last.Channel, Error: msg}
	return claim{done: true}, s.close(ctx, tx, r, reminder.Unknown, "outcome_unknown", failed, now)
}

func (s *Sender) startAttempt(ctx context.Context, tx *sqlx.Tx, c claim, visitVersion int64, now time.Time) error {
	if _, err := s.stmts.Exec(ctx, tx, insertAttempt, c.reminder.ReminderID, c.attempt, c.ch.Name(), c.route, visitVersion, now); err != nil {
		return fmt.Errorf("record attempt %d: %w", c.attempt, err)
	}
	if _, err := s.stmts.Exec(ctx, tx, setReminderChannel, c.reminder.ReminderID, c.ch.Name(), now); err != nil {
		return fmt.Errorf("record channel: %w", err)
	}
	return nil
}

// pick chooses the route: the first preferred one the patient consented to
// that has a channel, else the log stand-in for a patient who consented to
// any channel. reason says why none fits.
func (s *Sender) pick(c contact.Contact, found bool) (route string, ch app.Channel, reason string) {
	if !found {
		return "", nil, reminder.ReasonNoContact
	}
	consented := c.Channels()
	if len(consented) == 0 {
		return "", nil, reminder.ReasonNoConsent
	}
	for _, p := range s.Preference {
		if ch := s.Channels[p]; ch != nil && slices.Contains(consented, contact.Channel(p)) {
			return p, ch, ""
		}
	}
	if ch := s.Channels["log"]; ch != nil {
		return "log", ch, ""
	}
	return "", nil, reminder.ReasonNoChannel
}

// message renders the reminder for its route: a visit's reminder names the
// visit's time, one of no visit what its details hold.
func (s *Sender) message(r reminderRow, v *reminder.Visit, c contact.Contact, route string) (app.Message, error) {
	var subject, body, lang string
	if v != nil {
		subject, body, lang = reminder.Render(r.Kind, c.PreferredLanguage, v.Start, s.Location)
	} else {
		d, err := toDomainDetails(r.Details)
		if err != nil {
			return app.Message{}, fmt.Errorf("reminder %s: %w", r.ReminderID, err)
		}
		if r.Kind == reminder.KindCheckIn && r.SubjectID.Valid && s.CheckInLink != nil {
			d.Link = s.CheckInLink(r.SubjectID.UUID, r.DueAt)
		}
		subject, body, lang = reminder.RenderStandalone(r.Kind, c.PreferredLanguage, d)
	}
	to := r.PatientID.String()
	switch route {
	case string(contact.ChannelSMS):
		to = c.Phone
	case string(contact.ChannelEmail):
		to = c.Email
	}
	return app.Message{IdempotencyKey: "reminder-" + r.ReminderID.String(), To: to, Subject: subject, Body: body,
		Language: lang, Kind: r.Kind}, nil
}

// visitStart is the visit's start, zero for a reminder of no visit.
func visitStart(v *reminder.Visit) time.Time {
	if v == nil {
		return time.Time{}
	}
	return v.Start
}

// visitVersion is the visit's version an attempt records, 0 for no visit.
func visitVersion(v *reminder.Visit) int64 {
	if v == nil {
		return 0
	}
	return v.Version
}

// record stores a failed send (sendErr is not nil): recordSent records the
// sent ones of a batch together.
func (s *Sender) record(ctx context.Context, tx *sqlx.Tx, c claim, sendErr error) (Result, error) {
	id := c.reminder.ReminderID
	var r reminderRow
	if err := s.stmts.Get(ctx, tx, &r, lockReminder, id); err != nil {
		return Result{}, fmt.Errorf("lock reminder: %w", err)
	}
	now := s.Now()
	var status, text string
	var closeAs reminder.Status
	var res Result
	switch {
	case errors.Is(sendErr, app.ErrRefused):
		status, text, closeAs = "refused", errText(sendErr), reminder.Failed
	case errors.Is(sendErr, app.ErrOutcomeUnknown) && !c.ch.Idempotent():
		status, text, closeAs = "unknown", errText(sendErr), reminder.Unknown
	default: // transient, or in doubt on a channel that takes the key again
		status, text = "failed", errText(sendErr)
		if c.attempt >= s.MaxAttempts {
			closeAs = reminder.Failed
		} else {
			res.Retry = fmt.Errorf("reminder %s attempt %d failed: %s", id, c.attempt, text)
		}
	}
	out, err := s.stmts.Exec(ctx, tx, finishAttempt, id, c.attempt, status, nullText(text), now)
	if err != nil {
		return Result{}, fmt.Errorf("record attempt: %w", err)
	}
	if n, err := out.RowsAffected(); err != nil || n != 1 {
		// Someone else already settled this attempt: nothing more to do.
		return Result{}, errors.Join(err, fmt.Errorf("attempt %d of %s is no longer sending: %w", c.attempt, id, errGone))
	}
	if closeAs != "" {
		ev := &followupv1.ReminderFailed{Status: string(closeAs), Channel: c.ch.Name(), Error: text}
		if err := s.close(ctx, tx, r, closeAs, status, ev, now); err != nil {
			return Result{}, err
		}
	}
	s.hook(Recorded, id)
	return res, nil
}

// close ends a reminder that was not sent (recordSent ends the sent ones):
// its status and reason, and ReminderFailed when given.
func (s *Sender) close(ctx context.Context, tx *sqlx.Tx, r reminderRow, status reminder.Status, reason string,
	failed *followupv1.ReminderFailed, now time.Time) error {
	var version int64
	if err := s.stmts.Get(ctx, tx, &version, closeReminder, r.ReminderID, string(status), nullText(reason), now); err != nil {
		return fmt.Errorf("close reminder %s as %s: %w", r.ReminderID, status, err)
	}
	if failed != nil {
		var n int32
		if err := s.stmts.Get(ctx, tx, &n, countAttempts, r.ReminderID); err != nil {
			return fmt.Errorf("count attempts: %w", err)
		}
		failed.ReminderId, failed.Version, failed.OccurredAt = r.ReminderID.String(), version, timestamppb.New(now)
		failed.PatientId, failed.AppointmentId, failed.Kind, failed.Attempts = r.PatientID.String(), appointmentText(r.AppointmentID), r.Kind, n
		if err := s.Outbox.Publish(ctx, tx, r.ReminderID.String(), failed); err != nil {
			return err
		}
	}
	return nil
}

// errText keeps a channel's error short; channels keep personal data out
// of their errors (app.Channel).
func errText(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// appointmentText is the appointment id an event carries: empty for a
// reminder of no visit.
func appointmentText(id uuid.NullUUID) string {
	if !id.Valid {
		return ""
	}
	return id.UUID.String()
}

func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// selectStuck: scheduled reminders whose last attempt is still 'sending'
// since before $1.
const selectStuck = `SELECT r.reminder_id, r.job_version FROM reminders r
	JOIN reminder_attempts a ON a.reminder_id = r.reminder_id
	WHERE r.status = 'scheduled' AND a.status = 'sending' AND a.started_at < $1
	  AND a.attempt = (SELECT max(attempt) FROM reminder_attempts l WHERE l.reminder_id = r.reminder_id)
	ORDER BY a.started_at LIMIT 1000`

// ResumeStuck is the start sweep. A process that died in the middle of a
// send leaves the reminder's attempt 'sending' and its River job 'running';
// River would rescue the job only after RescueStuckJobsAfter (1 h), too
// late for a reminder of a visit tomorrow morning. So at start every
// reminder whose attempt has been 'sending' for longer than a send can take
// (SendTimeout: no live process is still in it) goes through the sender's
// recovery now: sent again with the same idempotency key through an
// idempotent channel, marked unknown otherwise. The claim re-checks the
// attempt under the row locks, so a reminder a River worker resumed first
// is left alone.
//
// The dead process's job stays 'running' until River rescues it; it then
// finds its reminder ended and completes, sending nothing (or, if the resent
// attempt failed, retries it as any failed attempt). Lowering River's
// RescueStuckJobsAfter instead is not possible per queue (it is a client
// setting, and pkg/jobs requires it to exceed JobTimeout for every job of
// the service), and would still wait for the rescuer's next run.
func (s *Sender) ResumeStuck(ctx context.Context) (resumed int, err error) {
	var rows []struct {
		ReminderID uuid.UUID `db:"reminder_id"`
		JobVersion int64     `db:"job_version"`
	}
	before := s.Now().Add(-s.SendTimeout)
	if err := s.DB.SelectContext(ctx, &rows, selectStuck, before); err != nil {
		return 0, fmt.Errorf("stuck reminders: %w", err)
	}
	var errs []error
	for _, r := range rows {
		if _, err := s.deliver(ctx, r.ReminderID, r.JobVersion, before); err != nil {
			errs = append(errs, err)
			continue
		}
		resumed++
	}
	return resumed, errors.Join(errs...)
}
