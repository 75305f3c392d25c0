package journey

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// WalkMany walks n patients through the happy path's cycles at once, as a
// clinic's days go: with one clock for everyone, the clock moves to the
// next appointment anyone has, and every patient whose turn it is then acts
// at the same moment, concurrently. (Moving the clock for one patient at a
// time would leave the others' visits behind it, missed.) No adverse event
// interrupts these courses.
func (d *Driver) WalkMany(ctx context.Context, n int) ([]Outcome, error) {
	walkers := make([]*crowdWalker, n)
	g, gctx := errgroup.WithContext(ctx)
	for i := range walkers {
		walkers[i] = &crowdWalker{walker: walker{d: d, out: Outcome{Path: "happy"}}, cycle: 1}
		w := walkers[i]
		g.Go(func() error { return w.enrol(gctx, fmt.Sprintf("众%d", i)) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for steps := 0; ; steps++ {
		if steps > 100*n {
			return nil, fmt.Errorf("the crowd did not finish in %d steps", steps)
		}
		var next time.Time
		for _, w := range walkers {
			if at, ok := w.nextAt(); ok && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		if next.IsZero() {
			break // everyone is done
		}
		if _, err := d.advanceTo(ctx, next); err != nil {
			return nil, err
		}
		g, gctx := errgroup.WithContext(ctx)
		for _, w := range walkers {
			if at, ok := w.nextAt(); ok && at.Equal(next) {
				g.Go(func() error { return w.act(gctx) })
			}
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	out := make([]Outcome, n)
	for i, w := range walkers {
		out[i] = w.out
	}
	return out, nil
}

// crowdWalker is one patient of WalkMany: the cycle it is in and what it
// waits for next (draw, release, infuse), or done.
type crowdWalker struct {
	walker
	mu    sync.Mutex
	cycle int
	phase string // "" (the draw), "release", "infuse", "done"
	din   string
}

// nextAt is when the patient's next step is due.
func (w *crowdWalker) nextAt() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.phase {
	case "done":
		return time.Time{}, false
	case "release":
		a, ok := w.course.Appointment(w.cycle, "culture")
		return a.End, ok
	case "infuse":
		a, ok := w.course.Appointment(w.cycle, "infusion")
		return a.Start, ok
	}
	a, ok := w.course.Appointment(w.cycle, "draw")
	return a.Start, ok
}

// act takes the patient's step now.
func (w *crowdWalker) act(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.out.Patient
	var err error
	switch w.phase {
	case "":
		if w.din, err = w.drawAndCulture(ctx, w.cycle); err != nil {
			return err
		}
		w.phase = "release"
	case "release":
		if _, err := w.d.Release(ctx, p.CourseID, w.cycle, w.din, GoodQC); err != nil {
			return err
		}
		w.phase = "infuse"
	case "infuse":
		a, err := w.d.Infuse(ctx, p, w.cycle, w.din)
		if err != nil {
			return err
		}
		w.out.Infusions = append(w.out.Infusions, a.ID)
		w.out.InfusedCycles = append(w.out.InfusedCycles, w.cycle)
		if w.cycle == len(w.course.Cycles) {
			w.out.Ended, w.phase = "completed", "done"
			_, err := w.d.WaitCourse(ctx, "scheduling completes the course", p.CourseID, func(c Course) bool { return c.Status == "completed" })
			return err
		}
		w.cycle++
		w.phase = ""
		w.course, err = w.d.WaitCourse(ctx, fmt.Sprintf("scheduling books cycle %d", w.cycle), p.CourseID, func(c Course) bool {
			a, ok := c.Appointment(w.cycle, "draw")
			return ok && a.Status == "booked"
		})
		return err
	}
	w.course, err = w.d.Course(ctx, p.CourseID)
	return err
}
