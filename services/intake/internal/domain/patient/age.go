package patient

import "time"

// CompletedYears is the age in completed years on day of someone born on
// birthDate. Both are calendar dates, read in their own locations. Someone
// born on 29 February has their birthday on 1 March in common years. It is
// negative when day is before birthDate.
func CompletedYears(birthDate, day time.Time) int {
	by, bm, bd := birthDate.Date()
	y, m, d := day.Date()
	age := y - by
	if m < bm || (m == bm && d < bd) {
		age--
	}
	return age
}
