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
// unreachable, restarting, shutting down, out of connections or disk, or
// the database is taken offline (ALTER DATABASE ... ALLOW_CONNECTIONS
// false). Such a failure passes when the database is back. An HTTP handler
// answers it with 503 and Retry-After (not a 500, which means a bug), and
// an event consumer retries it for as long as it lasts instead of
// dead-lettering the event.
//
// It is deliberately narrow. A statement timeout or a cancelled query
// (57014), a protocol violation (08P01), out of memory (53200) and a
// context deadline are not outages: they can recur for the same input and
// must stay visible as errors.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// A failed dial, read or write on the connection (not any net.Error:
	// context.DeadlineExceeded is one too).
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "08000", // connection_exception
			"08001", // sqlclient_unable_to_establish_sqlconnection
			"08003", // connection_does_not_exist
			"08004", // sqlserver_rejected_establishment_of_sqlconnection
			"08006", // connection_failure
			"53100", // disk_full
			"53300", // too_many_connections
			"57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now (starting up, recovering)
			"57P05": // idle_session_timeout
			return true
		}
		// "database ... is not currently accepting connections": taken
		// offline for a while; found by the journey with billing's database
		// restarted under it, which dead-lettered every event of the outage.
		return pqErr.Code == "55000" && pqErr.Routine == "CheckMyDatabase"
	}
	return false
}
