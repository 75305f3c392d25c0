package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
//     status, ReminderSent or ReminderFailed in the outbox, and the job's
//     completion (finish).
//
// A reminder whose last attempt is still 'sending' when it is claimed again
// was being sent by a process that died: through an idempotent channel it
// is sent again with the same idempotency key; otherwise it is marked
// unknown and never resent.
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
	// Location is the clinic's zone: the visit's time in the text, and the
	// patient's zone for quiet hours (contacts carry no zone of their own).
	Location *time.Location
	// MaxAttempts: after this many failed attempts the reminder is failed.
	MaxAttempts int
	// SendTimeout bounds one Channel.Send.
	SendTimeout time.Duration
	// Hook, if set, is called between the steps (tests crash the sender
	// there by panicking).
	Hook func(step Step, reminderID uuid.UUID)
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
	AppointmentID   uuid.UUID      `db:"appointment_id"`
	PatientID       uuid.UUID      `db:"patient_id"`
	Kind            string         `db:"kind"`
	OccurrenceStart time.Time      `db:"occurrence_start"`
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
		job_id, job_version, version, sent_at, updated_at`
	selectReminderVisit = `SELECT appointment_id FROM reminders WHERE reminder_id = $1`
	lockVisit           = `SELECT ` + visitColumns + ` FROM visits WHERE appointment_id = $1 FOR UPDATE`
	lockReminder        = `SELECT ` + reminderColumns + ` FROM reminders WHERE reminder_id = $1 FOR UPDATE`
	selectLastAttempt   = `SELECT reminder_id, attempt, channel, route, status, error, visit_version, started_at, finished_at
		FROM reminder_attempts WHERE reminder_id = $1 ORDER BY attempt DESC LIMIT 1`
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

// Deliver works the reminder's job of generation version. finish completes
// the job in the transaction that records the reminder's end (nil in tests
// that drive the sender without River).
func (s *Sender) Deliver(ctx context.Context, id uuid.UUID, version int64, finish func(context.Context, *sqlx.Tx) error) (Result, error) {
	if finish == nil {
		finish = func(context.Context, *sqlx.Tx) error { return nil }
	}
	s.hook(BeforeClaim, id)
	var c claim
	if err := pgdb.InTx(ctx, s.DB, nil, func(tx *sqlx.Tx) error {
		var err error
		c, err = s.claim(ctx, tx, id, version, finish)
		return err
	}); err != nil {
		return Result{}, fmt.Errorf("claim reminder %s: %w", id, err)
	}
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
	var res Result
	err := pgdb.InTx(context.WithoutCancel(ctx), s.DB, nil, func(tx *sqlx.Tx) error {
		var err error
		res, err = s.record(context.WithoutCancel(ctx), tx, c, sendErr, finish)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("record reminder %s attempt %d: %w", id, c.attempt, err)
	}
	s.hook(Done, id)
	return res, nil
}

func (s *Sender) hook(step Step, id uuid.UUID) {
	if s.Hook != nil {
		s.Hook(step, id)
	}
}

func (s *Sender) claim(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, version int64, finish func(context.Context, *sqlx.Tx) error) (claim, error) {
	var appointment uuid.UUID
	if err := tx.GetContext(ctx, &appointment, selectReminderVisit, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return claim{done: true}, finish(ctx, tx)
		}
		return claim{}, err
	}
	var vr visitRow
	if err := tx.GetContext(ctx, &vr, lockVisit, appointment); err != nil {
		return claim{}, fmt.Errorf("lock visit: %w", err)
	}
	visit := toDomainVisit(vr)
	c := claim{}
	if err := tx.GetContext(ctx, &c.reminder, lockReminder, id); err != nil {
		return claim{}, fmt.Errorf("lock reminder: %w", err)
	}
	r := c.reminder
	if r.JobVersion != version || r.Status != string(reminder.Scheduled) {
		return claim{done: true}, finish(ctx, tx) // dropped, or a job of an older schedule
	}
	last, err := lastAttempt(ctx, tx, id)
	if err != nil {
		return claim{}, err
	}
	invalid, err := s.invalid(ctx, tx, r, visit)
	if err != nil {
		return claim{}, err
	}
	if last != nil && last.Status == "sending" {
		return s.recover(ctx, tx, c, visit, *last, invalid, finish)
	}
	now := s.Now()
	if invalid != "" {
		return claim{done: true}, s.close(ctx, tx, r, reminder.Cancelled, invalid, nil, 0, now, finish)
	}
	d := s.Policy.Decide(now, r.DueAt, visit.Start, s.Location)
	if d.Skip != "" {
		return claim{done: true}, s.close(ctx, tx, r, reminder.Skipped, d.Skip, nil, 0, now, finish)
	}
	if !d.DeferUntil.IsZero() {
		return claim{deferUntil: d.DeferUntil}, nil
	}
	var cr contactRow
	found := true
	if err := tx.GetContext(ctx, &cr, selectContactForUse, r.PatientID); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			return claim{}, fmt.Errorf("contact: %w", err)
		}
		found = false
	}
	who := toDomainContact(cr)
	route, ch, reason := s.pick(who, found)
	if reason != "" {
		return claim{done: true}, s.close(ctx, tx, r, reminder.Skipped, reason, nil, 0, now, finish)
	}
	s.hook(Claimed, id)
	c.attempt = 1
	if last != nil {
		c.attempt = last.Attempt + 1
	}
	c.route, c.ch, c.msg = route, ch, s.message(r, visit, who, route)
	if err := s.startAttempt(ctx, tx, c, visit.Version, now); err != nil {
		return claim{}, err
	}
	return c, nil
}

// invalid says why a reminder no longer applies to its visit ("" when it
// does).
func (s *Sender) invalid(ctx context.Context, tx *sqlx.Tx, r reminderRow, v reminder.Visit) (string, error) {
	switch {
	case v.Status != reminder.VisitBooked:
		return reminder.ReasonCancelled, nil
	case !v.Start.Equal(r.OccurrenceStart):
		return reminder.ReasonMoved, nil
	case v.CourseID == uuid.Nil:
		return "", nil
	}
	status, err := visitsTx{tx: tx}.CourseStatus(ctx, v.CourseID)
	if err != nil {
		return "", err
	}
	switch status {
	case reminder.CourseOnHold:
		return reminder.ReasonCourseOnHold, nil
	case reminder.CourseCancelled:
		return reminder.ReasonCourseCancel, nil
	}
	return "", nil
}

// recover handles a reminder whose last attempt was left 'sending' by a
// process that died mid-send.
func (s *Sender) recover(ctx context.Context, tx *sqlx.Tx, c claim, visit reminder.Visit, last attemptRow, invalid string,
	finish func(context.Context, *sqlx.Tx) error) (claim, error) {
	now := s.Now()
	r := c.reminder
	ch := s.Channels[last.Route]
	if invalid == "" && ch != nil && ch.Idempotent() {
		// The same idempotency key: the channel delivers it at most once.
		if _, err := tx.ExecContext(ctx, finishAttempt, r.ReminderID, last.Attempt, "in_doubt",
			"the process stopped during the send; sent again with the same key", now); err != nil {
			return claim{}, fmt.Errorf("attempt in doubt: %w", err)
		}
		var cr contactRow
		if err := tx.GetContext(ctx, &cr, selectContactForUse, r.PatientID); err != nil {
			return claim{}, fmt.Errorf("contact: %w", err)
		}
		c.attempt, c.route, c.ch = last.Attempt+1, last.Route, ch
		c.msg = s.message(r, visit, toDomainContact(cr), last.Route)
		return c, s.startAttempt(ctx, tx, c, visit.Version, now)
	}
	const msg = "the process stopped during the send; the channel takes no idempotency key, so it is not resent"
	if _, err := tx.ExecContext(ctx, finishAttempt, r.ReminderID, last.Attempt, "unknown", msg, now); err != nil {
		return claim{}, fmt.Errorf("attempt unknown: %w", err)
	}
	failed := &followupv1.ReminderFailed{Status: string(reminder.Unknown), Channel: last.Channel, Error: msg}
	return claim{done: true}, s.close(ctx, tx, r, reminder.Unknown, "outcome_unknown", failed, last.Attempt, now, finish)
}

func (s *Sender) startAttempt(ctx context.Context, tx *sqlx.Tx, c claim, visitVersion int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, insertAttempt, c.reminder.ReminderID, c.attempt, c.ch.Name(), c.route, visitVersion, now); err != nil {
		return fmt.Errorf("record attempt %d: %w", c.attempt, err)
	}
	if _, err := tx.ExecContext(ctx, setReminderChannel, c.reminder.ReminderID, c.ch.Name(), now); err != nil {
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

func (s *Sender) message(r reminderRow, v reminder.Visit, c contact.Contact, route string) app.Message {
	subject, body, lang := reminder.Render(r.Kind, c.PreferredLanguage, v.Start, s.Location)
	to := r.PatientID.String()
	switch route {
	case string(contact.ChannelSMS):
		to = c.Phone
	case string(contact.ChannelEmail):
		to = c.Email
	}
	return app.Message{IdempotencyKey: "reminder-" + r.ReminderID.String(), To: to, Subject: subject, Body: body,
		Language: lang, Kind: r.Kind}
}

// record stores what the channel answered.
func (s *Sender) record(ctx context.Context, tx *sqlx.Tx, c claim, sendErr error, finish func(context.Context, *sqlx.Tx) error) (Result, error) {
	id := c.reminder.ReminderID
	var r reminderRow
	if err := tx.GetContext(ctx, &r, lockReminder, id); err != nil {
		return Result{}, fmt.Errorf("lock reminder: %w", err)
	}
	now := s.Now()
	status, text := "sent", ""
	var closeAs reminder.Status
	var res Result
	switch {
	case sendErr == nil:
		closeAs = reminder.Sent
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
	out, err := tx.ExecContext(ctx, finishAttempt, id, c.attempt, status, nullText(text), now)
	if err != nil {
		return Result{}, fmt.Errorf("record attempt: %w", err)
	}
	if n, err := out.RowsAffected(); err != nil || n != 1 {
		// Someone else already settled this attempt: nothing more to do.
		return Result{}, errors.Join(err, fmt.Errorf("attempt %d of %s is no longer sending: %w", c.attempt, id, errGone))
	}
	if closeAs != "" {
		var ev *followupv1.ReminderFailed
		if closeAs != reminder.Sent {
			ev = &followupv1.ReminderFailed{Status: string(closeAs), Channel: c.ch.Name(), Error: text}
		}
		reason := ""
		if closeAs != reminder.Sent {
			reason = status
		}
		if err := s.close(ctx, tx, r, closeAs, reason, ev, c.attempt, now, finish); err != nil {
			return Result{}, err
		}
	}
	s.hook(Recorded, id)
	return res, nil
}

// close ends a reminder: its status and reason, its event (ReminderSent for
// sent, failed when given), and the job's completion.
func (s *Sender) close(ctx context.Context, tx *sqlx.Tx, r reminderRow, status reminder.Status, reason string,
	failed *followupv1.ReminderFailed, attempt int, now time.Time, finish func(context.Context, *sqlx.Tx) error) error {
	var version int64
	if err := tx.GetContext(ctx, &version, closeReminder, r.ReminderID, string(status), nullText(reason), now); err != nil {
		return fmt.Errorf("close reminder %s as %s: %w", r.ReminderID, status, err)
	}
	switch {
	case status == reminder.Sent:
		ch := ""
		if r.Channel.Valid {
			ch = r.Channel.String
		}
		if err := s.Outbox.Publish(ctx, tx, r.ReminderID.String(), &followupv1.ReminderSent{
			ReminderId: r.ReminderID.String(), Version: version, OccurredAt: timestamppb.New(now),
			PatientId: r.PatientID.String(), AppointmentId: r.AppointmentID.String(), Kind: r.Kind, Channel: ch,
			Attempt: int32(attempt), DueAt: timestamppb.New(r.DueAt), SentAt: timestamppb.New(now)}); err != nil {
			return err
		}
	case failed != nil:
		var n int32
		if err := tx.GetContext(ctx, &n, countAttempts, r.ReminderID); err != nil {
			return fmt.Errorf("count attempts: %w", err)
		}
		failed.ReminderId, failed.Version, failed.OccurredAt = r.ReminderID.String(), version, timestamppb.New(now)
		failed.PatientId, failed.AppointmentId, failed.Kind, failed.Attempts = r.PatientID.String(), r.AppointmentID.String(), r.Kind, n
		if err := s.Outbox.Publish(ctx, tx, r.ReminderID.String(), failed); err != nil {
			return err
		}
	}
	return finish(ctx, tx)
}

func lastAttempt(ctx context.Context, tx *sqlx.Tx, id uuid.UUID) (*attemptRow, error) {
	var a attemptRow
	err := tx.GetContext(ctx, &a, selectLastAttempt, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last attempt: %w", err)
	}
	return &a, nil
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

func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
