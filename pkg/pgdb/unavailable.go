package pgdb

import (
	"database/sql/driver"
	"errors"
	"net"
	"syscall"

	"github.com/lib/pq"
)

// Unavailable reports whether err says the database cannot serve at the
// moment, rather than that the request or the code is wrong: the server is
// unreachable, restarting, shutting down, out of connections, or the
// database is taken offline (ALTER DATABASE ... ALLOW_CONNECTIONS false).
// Such a failure passes when the database is back. An HTTP handler answers
// it with 503 and Retry-After (not a 500, which means a bug), and an event
// consumer retries it for as long as it lasts instead of dead-lettering the
// event.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
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
			"53", // insufficient resources (too many connections, disk full)
			"57": // operator intervention: admin shutdown, crash of another backend, starting up
			return true
		}
		// "database ... is not currently accepting connections": taken
		// offline for a while; found by the journey with billing's database
		// restarted under it, which dead-lettered every event of the outage.
		return pqErr.Code == "55000" && pqErr.Routine == "CheckMyDatabase"
	}
	return false
}
