package messaging

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/lib/pq"
)

// An outage is retried for as long as it lasts; an error of the event is
// not.
func TestTransientTellsOutagesFromBadEvents(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]bool{
		&pq.Error{Code: "57P01"}:                                 true, // admin shutdown
		&pq.Error{Code: "57P03"}:                                 true, // starting up
		&pq.Error{Code: "08006"}:                                 true, // connection failure
		&pq.Error{Code: "55000", Routine: "CheckMyDatabase"}:     true, // database taken offline
		&pq.Error{Code: "40001"}:                                 true, // serialization failure
		fmt.Errorf("begin tx: %w", syscall.ECONNREFUSED):         true,
		&pq.Error{Code: "55000", Routine: "LockAcquireExtended"}: false, // another prerequisite, not an outage
		&pq.Error{Code: "23505"}:                                 false, // unique violation
		&pq.Error{Code: "22P02"}:                                 false, // bad input
		errors.New("the event names no patient"):                 false,
	} {
		if got := transient(err); got != want {
			t.Errorf("transient(%v) = %v, want %v", err, got, want)
		}
	}
}
