package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
)

// loadYear books a year of the clinic ahead at about 70 %: each chair and
// draw station hour by hour on a random 70 % of its weekday opening hours,
// and five of the eight culture slots back to back all year. Each booking
// has its own patient, so only the resources constrain the planner.
const loadYear = `
WITH days AS (
    SELECT d::date AS day FROM generate_series($1::date, $1::date + 365, interval '1 day') d
    WHERE extract(isodow FROM d) < 6
), busy AS (
    SELECT r.id, r.kind, days.day, h FROM resources r, days, generate_series(8, 17) h
    WHERE r.kind IN ('infusion_chair', 'draw_station') AND random() < 0.7
), cultures AS (
    SELECT id, kind, $1::date + n * 14 AS day
    FROM (SELECT id, kind, row_number() OVER (ORDER BY name) AS slot FROM resources WHERE kind = 'culture_slot') r,
        generate_series(0, 26) n
    WHERE slot <= 5
)
INSERT INTO appointments (id, patient_id, kind, resource_id, resource_kind, patient_present, start_at, end_at,
    blocked_until, status, version, created_at, updated_at)
SELECT gen_random_uuid(), gen_random_uuid(), 'consultation', id, kind, true,
    (day + make_interval(hours => h)) AT TIME ZONE 'Asia/Shanghai',
    (day + make_interval(hours => h + 1)) AT TIME ZONE 'Asia/Shanghai',
    (day + make_interval(hours => h + 1)) AT TIME ZONE 'Asia/Shanghai', 'booked', 1, now(), now()
FROM busy
UNION ALL
SELECT gen_random_uuid(), gen_random_uuid(), 'culture', id, kind, false,
    day::timestamp AT TIME ZONE 'Asia/Shanghai', (day + 14)::timestamp AT TIME ZONE 'Asia/Shanghai',
    (day + 14)::timestamp AT TIME ZONE 'Asia/Shanghai', 'booked', 1, now(), now()
FROM cultures`

// BenchmarkPlanCourse plans six-cycle courses (NK autologous) against a
// year of existing bookings: the whole handler's work in one transaction
// (read the occupancy, plan, book the chain under the exclusion
// constraints, write the course, its cycles, the outbox and the jobs).
// Each transaction is rolled back after it did all that, so that every
// measurement sees the same year (committed, 300 courses would fill the
// three free culture slots for months). It prints BENCH plan_course_p50
// and _p99; the goal is p99 < 50 ms.
var errRollback = errors.New("roll back")

func BenchmarkPlanCourse(b *testing.B) {
	bb := setup(b)
	ctx := context.Background()
	start := bb.clock.Now().In(shanghai)
	res, err := bb.db.ExecContext(ctx, loadYear, start.Format(time.DateOnly))
	require.NoError(b, err)
	rows, _ := res.RowsAffected()
	const courses = 300
	lat := make([]time.Duration, 0, courses)
	planned := 0
	for range courses {
		patient := uuid.New()
		save(b, bb.db, patientrefOf(patient, time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)))
		id := uuid.New()
		t0 := time.Now()
		err := bb.store.Do(ctx, func(r app.Repositories) error {
			if err := bb.app.PlanCourse(ctx, r, course.Request{ID: id, PatientID: patient, Program: "nk-autologous",
				ProtocolVersion: "NK-AUTO-2026.1", IntakeVersion: 1}); err != nil {
				return err
			}
			c, err := r.Courses().Get(ctx, id)
			if err != nil {
				return err
			}
			if c.Status() == course.Planned {
				planned++
			}
			return errRollback
		})
		lat = append(lat, time.Since(t0))
		require.ErrorIs(b, err, errRollback)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	fmt.Printf("BENCH plan_course_p50 %.2f ms (six-cycle course, %d existing bookings)\n", q(0.50), rows)
	fmt.Printf("BENCH plan_course_p99 %.2f ms goal=50 ratio=%.2f planned=%d/%d\n", q(0.99), q(0.99)/50, planned, courses)
}
