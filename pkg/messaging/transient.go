package messaging

import (
	"database/sql/driver"
	"errors"
	"net"
	"syscall"

	"github.com/lib/pq"
	"github.com/nats-io/nats.go"
)

// transient reports whether err comes from infrastructure that is down for
// a while (database unreachable or restarting, NATS disconnected, a
// serialization conflict), not from the event. Such failures are retried
// with backoff for as long as they last and never dead-letter an event: an
// outage must not empty a consumer into the DLQ.
func transient(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code.Class() {
		case "08", // connection exception
			"53", // insufficient resources
			"57": // operator intervention: shutdown, starting up
			return true
		}
		switch {
		case pqErr.Code == "40001", pqErr.Code == "40P01": // serialization failure, deadlock
			return true
		case pqErr.Code == "55000" && pqErr.Routine == "CheckMyDatabase":
			// "database ... is not currently accepting connections": taken
			// offline (ALTER DATABASE ... ALLOW_CONNECTIONS false) for a
			// while; found by the journey with billing's database restarted
			// under it, which dead-lettered every event of the outage.
			return true
		}
	}
	return false
}
