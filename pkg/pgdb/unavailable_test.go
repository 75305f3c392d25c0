package pgdb_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/lib/pq"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

// An outage of the database is told from an error of the request or of the
// code: the first is a 503 for HTTP and a retry for a consumer, the second
// a 4xx or a bug.
func TestUnavailableTellsOutagesFromErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&pq.Error{Code: "57P01"}, true}, // admin shutdown
		{&pq.Error{Code: "57P02"}, true}, // crash of another backend
		{&pq.Error{Code: "57P03"}, true}, // starting up
		{&pq.Error{Code: "08006"}, true}, // connection failure
		{&pq.Error{Code: "53300"}, true}, // too many connections
		{&pq.Error{Code: "55000", Routine: "CheckMyDatabase"}, true},
		{fmt.Errorf("begin tx: %w", driver.ErrBadConn), true},
		{fmt.Errorf("begin tx: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{fmt.Errorf("exec: %w", syscall.EPIPE), true},
		{&pq.Error{Code: "57P05"}, true},  // idle session timeout
		{&pq.Error{Code: "53100"}, true},  // disk full
		{&pq.Error{Code: "57014"}, false}, // statement timeout: the same query may time out again
		{&pq.Error{Code: "08P01"}, false}, // protocol violation: a bug
		{&pq.Error{Code: "53200"}, false}, // out of memory: may recur for the same input
		{&pq.Error{Code: "57P04"}, false}, // database dropped
		{fmt.Errorf("plan: %w", context.DeadlineExceeded), false},
		{&pq.Error{Code: "55000", Routine: "LockAcquireExtended"}, false},
		{&pq.Error{Code: "40001"}, false}, // a conflict: retried by the caller, not an outage
		{&pq.Error{Code: "23505"}, false},
		{&pq.Error{Code: "22P02"}, false},
		{errors.New("no such patient"), false},
		{context.Canceled, false},
		{nil, false},
	} {
		if got := pgdb.Unavailable(tt.err); got != tt.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
