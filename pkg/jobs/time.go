package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/clinicops/clinicops/pkg/clock"
)

// How River (v0.51.2) tells time, and what we do about it.
//
// River reads two clocks. In Go it calls its TimeGenerator's Now: the
// scheduler (which moves scheduled and retryable jobs to available, every
// 5 s, on the leader), the rescuer's stuck horizon, retry times. In SQL it
// writes coalesce($now, now()) with $now = TimeGenerator.NowOrNil(): the
// producer's fetch (`state = 'available' AND scheduled_at <= $now`),
// attempted_at, finalized_at, created_at, the leader's expiry. Its production
// generator returns nil there, so the database's now() decides.
//
// With a controlled clock that split breaks "time passed": after advancing
// 14 days the scheduler would make a job available, but the fetch would still
// compare it with the database's now() and never take it; and the rescuer,
// comparing the advanced Go time with attempted_at stamped by now(), would
// take every running job for stuck. So for any clock but clock.System,
// riverTime answers both with our clock (Config.Test.Time is River's only
// hook for this; nothing else in Test changes behaviour). Production keeps
// River's own split.
//
// Second, the scheduler runs every 5 s (not configurable), so a job would
// wait up to 5 s after coming due. dueAtScheduledAt inserts jobs with a
// ScheduledAt as state available rather than scheduled: the fetch query's own
// `scheduled_at <= $now` keeps them until they are due, and any replica's
// next poll (FetchPollInterval) takes them once due. River itself stores jobs
// that way when a retry or snooze is shorter than the scheduler interval, and
// its fetch index (state, queue, priority, scheduled_at, id) serves it.
// Retries still go through the scheduler (up to 5 s late after an advance).
//
// One River service ignores the generator: the job cleaner deletes finalized
// jobs (completed and cancelled after 24 h) by the real time.Now. Under the
// dev clock, which runs ahead, finished jobs are therefore kept for the
// offset plus 24 h. Mind that with unique jobs: River's default unique states
// include completed, so an equal job (ByArgs) is skipped as a duplicate
// until the completed one is cleaned.

// riverTime is River's view of a controlled clock.
type riverTime struct{ c clock.Clock }

func (t riverTime) Now() time.Time { return t.c.Now() }

func (t riverTime) NowOrNil() *time.Time {
	now := t.c.Now()
	return &now
}

var _ rivertype.TimeGenerator = riverTime{}

// dueAtScheduledAt makes future jobs available-but-not-yet-due instead of
// scheduled, so they run within a poll interval of coming due (see above).
type dueAtScheduledAt struct{ river.MiddlewareDefaults }

func (*dueAtScheduledAt) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams,
	doInner func(context.Context) ([]*rivertype.JobInsertResult, error),
) ([]*rivertype.JobInsertResult, error) {
	for _, p := range params {
		if p.State == rivertype.JobStateScheduled && p.ScheduledAt != nil {
			p.State = rivertype.JobStateAvailable
		}
	}
	return doInner(ctx)
}

var _ rivertype.JobInsertMiddleware = (*dueAtScheduledAt)(nil)
