package adapters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"google.golang.org/protobuf/types/known/timestamppb"

	followupv1 "github.com/clinicops/clinicops/pkg/events/clinicops/followup/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// The sender's claims and records run in batches (batcher): the reminders
// workers bring while a batch is in flight are claimed, or recorded, by the
// next one, in one transaction whose statements each cover the whole batch.
// Each reminder's rules are the same as alone: it is 'sending' before its
// message leaves, and a crash rolls back the whole batch's transaction,
// which for every reminder in it is a crash before that step.

// maxBatch bounds a batch (and the arrays its statements carry).
const maxBatch = 200

const (
	// batchLockVisits locks the batch's visits first, in one order (the
	// event handlers lock a visit, then its reminders).
	batchLockVisits = `SELECT ` + visitColumns + ` FROM visits
		WHERE appointment_id IN (SELECT appointment_id FROM reminders WHERE reminder_id = ANY($1))
		ORDER BY appointment_id FOR UPDATE`
	batchLockReminders = `SELECT ` + reminderColumns + ` FROM reminders WHERE reminder_id = ANY($1)
		ORDER BY reminder_id FOR UPDATE`
	// batchLastAttempts: each reminder's last attempt, one primary-key
	// lookup per reminder whatever the table's statistics say (DISTINCT ON
	// over = ANY sorted the whole batch's attempts, 12 ms a batch at
	// 100,000).
	batchLastAttempts = `SELECT a.reminder_id, a.attempt, a.channel, a.route, a.status, a.error, a.visit_version,
		a.started_at, a.finished_at FROM unnest($1::uuid[]) AS t(id)
		CROSS JOIN LATERAL (SELECT * FROM reminder_attempts l WHERE l.reminder_id = t.id ORDER BY l.attempt DESC LIMIT 1) a`
	batchCourseStatus   = `SELECT course_id, status FROM course_states WHERE course_id = ANY($1)`
	batchContacts       = selectContacts + ` WHERE c.patient_id = ANY($1)`
	batchInsertAttempts = `INSERT INTO reminder_attempts (reminder_id, attempt, channel, route, status, visit_version, started_at)
		SELECT t.id, t.n, t.ch, t.route, 'sending', t.vv, $6
		FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::bigint[]) AS t(id, n, ch, route, vv)`
	batchSetChannel = `UPDATE reminders r SET channel = t.ch, updated_at = $3
		FROM unnest($1::uuid[], $2::text[]) AS t(id, ch) WHERE r.reminder_id = t.id`
	// batchFinishSent settles the attempts still 'sending' as sent; the
	// ones it returns are this batch's to close.
	batchFinishSent = `UPDATE reminder_attempts a SET status = 'sent', error = NULL, finished_at = $3
		FROM unnest($1::uuid[], $2::int[]) AS t(id, n)
		WHERE a.reminder_id = t.id AND a.attempt = t.n AND a.status = 'sending' RETURNING a.reminder_id`
	batchCloseSent = `UPDATE reminders SET status = 'sent', reason = NULL, version = version + 1, updated_at = $2, sent_at = $2
		WHERE reminder_id = ANY($1) AND status = 'scheduled' RETURNING reminder_id, version`
)

func (s *Sender) batchers() {
	s.claims = &batcher[claimReq, claimResult]{max: maxBatch, run: s.claimBatch}
	s.records = &batcher[recordReq, recordResult]{max: maxBatch, run: s.recordBatch}
}

type claimReq struct {
	id          uuid.UUID
	version     int64
	stuckBefore time.Time
}

// claimResult is one reminder's claim, or why it could not be decided
// (the others in the batch go on).
type claimResult struct {
	claim claim
	err   error
}

// claimSet is what a claim batch read and locked, and the attempts it
// starts.
type claimSet struct {
	reminders map[uuid.UUID]reminderRow
	visits    map[uuid.UUID]reminder.Visit
	attempts  map[uuid.UUID]attemptRow // the last of each reminder
	courses   map[uuid.UUID]string
	contacts  map[uuid.UUID]contactRow
	taken     map[uuid.UUID]bool

	started []startedAttempt
}

type startedAttempt struct {
	c            claim
	visitVersion int64
}

func (set *claimSet) last(id uuid.UUID) *attemptRow {
	if a, ok := set.attempts[id]; ok {
		return &a
	}
	return nil
}

// start records that c's attempt begins ('sending'), written with the
// batch's other attempts.
func (set *claimSet) start(c claim, visitVersion int64) {
	set.started = append(set.started, startedAttempt{c: c, visitVersion: visitVersion})
}

// invalid says why a reminder no longer applies to its visit ("" when it
// does, and always for a reminder of no visit: nothing about a visit can
// drop it).
func (set *claimSet) invalid(r reminderRow, v *reminder.Visit) string {
	switch {
	case v == nil:
		return ""
	case v.Status != reminder.VisitBooked:
		return reminder.ReasonCancelled
	case !v.Start.Equal(r.OccurrenceStart.Time):
		return reminder.ReasonMoved
	case v.CourseID == uuid.Nil:
		return ""
	}
	switch set.courses[v.CourseID] {
	case reminder.CourseOnHold:
		return reminder.ReasonCourseOnHold
	case reminder.CourseCancelled:
		return reminder.ReasonCourseCancel
	}
	return ""
}

// claimBatch claims reqs in one transaction.
func (s *Sender) claimBatch(ctx context.Context, reqs []claimReq) ([]claimResult, error) {
	out := make([]claimResult, len(reqs))
	err := pgdb.InTx(ctx, s.DB, nil, func(tx *sqlx.Tx) error {
		set, err := s.readClaimSet(ctx, tx, reqs)
		if err != nil {
			return err
		}
		for i, req := range reqs {
			out[i].claim, out[i].err = s.claim(ctx, tx, set, req)
		}
		return s.writeAttempts(ctx, tx, set.started)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Sender) readClaimSet(ctx context.Context, tx *sqlx.Tx, reqs []claimReq) (*claimSet, error) {
	ids := make([]uuid.UUID, len(reqs))
	for i, r := range reqs {
		ids[i] = r.id
	}
	set := &claimSet{reminders: map[uuid.UUID]reminderRow{}, visits: map[uuid.UUID]reminder.Visit{},
		attempts: map[uuid.UUID]attemptRow{}, courses: map[uuid.UUID]string{}, contacts: map[uuid.UUID]contactRow{},
		taken: map[uuid.UUID]bool{}}
	var visits []visitRow
	if err := s.stmts.Select(ctx, tx, &visits, batchLockVisits, uuidArray(ids)); err != nil {
		return nil, fmt.Errorf("lock visits: %w", err)
	}
	var courses []uuid.UUID
	for _, v := range visits {
		set.visits[v.AppointmentID] = toDomainVisit(v)
		if v.CourseID.Valid && !slices.Contains(courses, v.CourseID.UUID) {
			courses = append(courses, v.CourseID.UUID)
		}
	}
	var rs []reminderRow
	if err := s.stmts.Select(ctx, tx, &rs, batchLockReminders, uuidArray(ids)); err != nil {
		return nil, fmt.Errorf("lock reminders: %w", err)
	}
	var patients []uuid.UUID
	for _, r := range rs {
		set.reminders[r.ReminderID] = r
		patients = append(patients, r.PatientID)
	}
	var attempts []attemptRow
	if err := s.stmts.Select(ctx, tx, &attempts, batchLastAttempts, uuidArray(ids)); err != nil {
		return nil, fmt.Errorf("last attempts: %w", err)
	}
	for _, a := range attempts {
		set.attempts[a.ReminderID] = a
	}
	if len(courses) > 0 {
		var cs []struct {
			CourseID uuid.UUID `db:"course_id"`
			Status   string    `db:"status"`
		}
		if err := s.stmts.Select(ctx, tx, &cs, batchCourseStatus, uuidArray(courses)); err != nil {
			return nil, fmt.Errorf("course states: %w", err)
		}
		for _, c := range cs {
			set.courses[c.CourseID] = c.Status
		}
	}
	var contacts []contactRow
	if err := s.stmts.Select(ctx, tx, &contacts, batchContacts, uuidArray(patients)); err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	for _, c := range contacts {
		set.contacts[c.PatientID] = c
	}
	return set, nil
}

// writeAttempts writes the batch's new attempts as 'sending', and the
// channel on their reminders.
func (s *Sender) writeAttempts(ctx context.Context, tx *sqlx.Tx, started []startedAttempt) error {
	if len(started) == 0 {
		return nil
	}
	n := len(started)
	ids, channels, routes := make([]uuid.UUID, n), make([]string, n), make([]string, n)
	attempts, versions := make([]int64, n), make([]int64, n)
	for i, a := range started {
		ids[i], attempts[i], channels[i], routes[i], versions[i] = a.c.reminder.ReminderID, int64(a.c.attempt), a.c.ch.Name(), a.c.route, a.visitVersion
	}
	now := s.Now()
	if _, err := s.stmts.Exec(ctx, tx, batchInsertAttempts, uuidArray(ids), pq.Array(attempts), pq.Array(channels),
		pq.Array(routes), pq.Array(versions), now); err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	if _, err := s.stmts.Exec(ctx, tx, batchSetChannel, uuidArray(ids), pq.Array(channels), now); err != nil {
		return fmt.Errorf("record channels: %w", err)
	}
	return nil
}

type recordReq struct {
	c       claim
	sendErr error
}

type recordResult struct {
	res Result
	err error
}

// recordBatch records what the channels answered for reqs in one
// transaction: the sent ones together (their attempts, their reminders and
// their ReminderSent events), the others one by one.
func (s *Sender) recordBatch(ctx context.Context, reqs []recordReq) ([]recordResult, error) {
	out := make([]recordResult, len(reqs))
	err := pgdb.InTx(ctx, s.DB, nil, func(tx *sqlx.Tx) error {
		ids := make([]uuid.UUID, len(reqs))
		for i, r := range reqs {
			ids[i] = r.c.reminder.ReminderID
		}
		// One lock order for the batch's reminders.
		var locked []reminderRow
		if err := s.stmts.Select(ctx, tx, &locked, batchLockReminders, uuidArray(ids)); err != nil {
			return fmt.Errorf("lock reminders: %w", err)
		}
		var sent []int
		for i, r := range reqs {
			if r.sendErr == nil {
				sent = append(sent, i)
				continue
			}
			var err error
			if out[i].res, err = s.record(ctx, tx, r.c, r.sendErr); errors.Is(err, errGone) {
				out[i].err = err
			} else if err != nil {
				return err
			}
		}
		return s.recordSent(ctx, tx, reqs, sent, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// recordSent settles the batch's sent attempts (reqs[i] for i in sent).
func (s *Sender) recordSent(ctx context.Context, tx *sqlx.Tx, reqs []recordReq, sent []int, out []recordResult) error {
	if len(sent) == 0 {
		return nil
	}
	ids, attempts := make([]uuid.UUID, len(sent)), make([]int64, len(sent))
	for k, i := range sent {
		ids[k], attempts[k] = reqs[i].c.reminder.ReminderID, int64(reqs[i].c.attempt)
	}
	now := s.Now()
	var settled []uuid.UUID
	if err := s.stmts.Select(ctx, tx, &settled, batchFinishSent, uuidArray(ids), pq.Array(attempts), now); err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	var closed []struct {
		ReminderID uuid.UUID `db:"reminder_id"`
		Version    int64     `db:"version"`
	}
	if err := s.stmts.Select(ctx, tx, &closed, batchCloseSent, uuidArray(settled), now); err != nil {
		return fmt.Errorf("close reminders: %w", err)
	}
	versions := make(map[uuid.UUID]int64, len(closed))
	for _, c := range closed {
		versions[c.ReminderID] = c.Version
	}
	events := make([]messaging.Keyed, 0, len(closed))
	for _, i := range sent {
		c := reqs[i].c
		id := c.reminder.ReminderID
		version, ok := versions[id]
		if !ok {
			// Someone else already settled this attempt: nothing more to do.
			out[i].err = fmt.Errorf("attempt %d of %s is no longer sending: %w", c.attempt, id, errGone)
			continue
		}
		r := c.reminder
		events = append(events, messaging.Keyed{AggregateID: id.String(), Event: &followupv1.ReminderSent{
			ReminderId: id.String(), Version: version, OccurredAt: timestamppb.New(now),
			PatientId: r.PatientID.String(), AppointmentId: appointmentText(r.AppointmentID), Kind: r.Kind, Channel: c.ch.Name(),
			Attempt: int32(c.attempt), DueAt: timestamppb.New(r.DueAt), SentAt: timestamppb.New(now)}}) //nolint:gosec // attempts are few
		s.hook(Recorded, id)
	}
	return s.Outbox.PublishMany(ctx, tx, events)
}
