package pgdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// lib/pq learns that the server closed a connection only when it next uses
// it: after a database restart (or a failover, or an administrator's
// pg_terminate_backend) every connection idle in the pool fails the first
// request that takes it, a 500 for a client whose request was fine. pgx
// checks idle connections before reuse; lib/pq and database/sql do not, so
// this wrapper does: a connection that sat idle for longer than
// idleCheckAfter is pinged when database/sql takes it from the pool
// (SessionResetter), and one that does not answer is discarded
// (driver.ErrBadConn) for a new one. Under load connections are reused
// within milliseconds and never pinged. (Found by the end-to-end journey
// with billing's database restarted under it.)

// idleCheckAfter is how long a connection may sit idle before it is
// checked on reuse.
const idleCheckAfter = time.Second

// pqConn is what lib/pq's connection implements and database/sql uses.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.NamedValueChecker
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type checkedConnector struct {
	pq *pq.Connector
}

func (c checkedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.pq.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pqConn)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("pgdb: lib/pq connection %T lacks a method database/sql needs", conn)
	}
	return &checkedConn{pqConn: pc, used: time.Now()}, nil
}

func (c checkedConnector) Driver() driver.Driver { return c.pq.Driver() }

type checkedConn struct {
	pqConn
	used time.Time // when database/sql last took it from the pool
}

// ResetSession runs when database/sql takes the connection from the pool
// for another use.
func (c *checkedConn) ResetSession(ctx context.Context) error {
	if err := c.pqConn.ResetSession(ctx); err != nil {
		return err
	}
	idle := time.Since(c.used)
	c.used = time.Now()
	if idle > idleCheckAfter {
		if err := c.Ping(ctx); err != nil {
			return driver.ErrBadConn
		}
	}
	return nil
}
