package calendar

import (
	"iter"
	"time"
)

// Day is the clinic date of instant t: the date t falls on in the clinic's
// zone, as midnight UTC of that date (clock.DateOf's form). 23:30 UTC is
// already the next day in Asia/Shanghai.
func (c Calendar) Day(t time.Time) time.Time {
	y, m, d := t.In(c.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// span is h on the local date y-m-d as instants. Built with time.Date on
// that date, never by adding hours to midnight, so that 08:00-18:00 stays
// 08:00-18:00 on the clock across a daylight-saving change (the day is
// then 23 or 25 hours long; the span keeps its wall-clock bounds). Close
// 24:00 is the next day's midnight.
func (c Calendar) span(y int, m time.Month, d int, h Hours) (open, close time.Time) {
	open = time.Date(y, m, d, int(h.Open)/60, int(h.Open)%60, 0, 0, c.Location)
	close = time.Date(y, m, d, int(h.Close)/60, int(h.Close)%60, 0, 0, c.Location)
	return open.UTC(), close.UTC()
}

// Inside reports whether [start, end) lies entirely inside one opening span
// of one local day that is not a closure. An empty or reversed interval is
// not inside.
func (c Calendar) Inside(start, end time.Time) bool {
	if !start.Before(end) {
		return false
	}
	local := start.In(c.Location)
	y, m, d := local.Date()
	if c.Closed(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return false
	}
	for _, h := range c.Hours {
		if h.Weekday != local.Weekday() {
			continue
		}
		open, close := c.span(y, m, d, h)
		if !start.Before(open) && !end.After(close) {
			return true
		}
	}
	return false
}

// Spans yields the opening spans that end after from and open before
// until, in time order, as UTC instants [open, close), unclipped. Closed
// days yield nothing. It walks local dates (date arithmetic in the clinic's
// zone, never 24-hour steps), so it is exact across daylight-saving changes.
func (c Calendar) Spans(from, until time.Time) iter.Seq[[2]time.Time] {
	return func(yield func([2]time.Time) bool) {
		if !from.Before(until) {
			return
		}
		day := c.Day(from)
		last := c.Day(until)
		order := c.sortedHours()
		for !day.After(last) {
			if !c.Closed(day) {
				y, m, d := day.Date()
				wd := day.Weekday()
				for _, h := range order {
					if h.Weekday != wd {
						continue
					}
					open, close := c.span(y, m, d, h)
					if !close.After(from) || !open.Before(until) {
						continue
					}
					if !yield([2]time.Time{open, close}) {
						return
					}
				}
			}
			day = day.AddDate(0, 0, 1)
		}
	}
}

// sortedHours is c.Hours ordered by opening time, so that one day's spans
// come out in time order whatever order the admin entered them in.
func (c Calendar) sortedHours() []Hours {
	sorted := true
	for i := 1; i < len(c.Hours); i++ {
		if c.Hours[i].Open < c.Hours[i-1].Open {
			sorted = false
			break
		}
	}
	if sorted {
		return c.Hours
	}
	out := make([]Hours, len(c.Hours))
	copy(out, c.Hours)
	for i := 1; i < len(out); i++ { // insertion sort: a handful of spans
		for j := i; j > 0 && out[j].Open < out[j-1].Open; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// LongestSpan is the longest opening span of any weekday by the clock (a
// daylight-saving day can make one an hour shorter or longer): a step
// longer than it can never lie inside opening hours.
func (c Calendar) LongestSpan() time.Duration {
	var longest time.Duration
	for _, h := range c.Hours {
		longest = max(longest, time.Duration(h.Close-h.Open)*time.Minute)
	}
	return longest
}
