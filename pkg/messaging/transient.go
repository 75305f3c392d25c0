package messaging

import (
	"errors"
	"net"

	"github.com/lib/pq"
	"github.com/nats-io/nats.go"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

// transient reports whether err comes from infrastructure that is down for
// a while (database unreachable or restarting, NATS disconnected, a
// serialization conflict), not from the event. Such failures are retried
// with backoff for as long as they last and never dead-letter an event: an
// outage must not empty a consumer into the DLQ.
func transient(err error) bool {
	if pgdb.Unavailable(err) || errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) {
		return true
	}
	// Any network timeout (a handler's deadline included) is tried again
	// rather than dead-lettered.
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pqErr *pq.Error
	// A serialization failure or a deadlock: the transaction may simply be
	// run again.
	return errors.As(err, &pqErr) && (pqErr.Code == "40001" || pqErr.Code == "40P01")
}
