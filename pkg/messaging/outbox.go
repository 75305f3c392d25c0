package messaging

import (
	"context"
	stdsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

// Outbox writes events into the outbox table of the transaction that changed
// state, through a Watermill SQL publisher bound to that transaction. Nothing
// reaches JetStream unless the transaction commits; the Relay does the rest.
type Outbox struct {
	service string
	now     func() time.Time
	wake    *Wake
}

// NewOutbox returns the outbox of a service, named as in its stream
// ("intake"); its events carry ce-source SourceOf(service).
func NewOutbox(service string, now func() time.Time) *Outbox {
	if now == nil {
		now = time.Now
	}
	return &Outbox{service: service, now: now}
}

// WakeOnCommit returns a copy of o that pokes w once a transaction it
// published in has committed, so that the Relay sharing w (the one of the
// same process) publishes the events at once instead of at its next poll.
// Only transactions run by pgdb.InTx get the poke (pgdb.AfterCommit); rows
// of other transactions, or of another process, wait for the leading
// relay's poll.
func (o *Outbox) WakeOnCommit(w *Wake) *Outbox {
	c := *o
	c.wake = w
	return &c
}

// Publish writes events about one aggregate into tx's outbox, in order.
func (o *Outbox) Publish(ctx context.Context, tx *sqlx.Tx, aggregateID string, events ...proto.Message) error {
	keyed := make([]Keyed, len(events))
	for i, ev := range events {
		keyed[i] = Keyed{AggregateID: aggregateID, Event: ev}
	}
	return o.PublishMany(ctx, tx, keyed)
}

// Keyed is an event and the aggregate it is about, for PublishMany.
type Keyed struct {
	AggregateID string
	Event       proto.Message
}

// PublishMany writes events about several aggregates into tx's outbox, in
// order, with one INSERT per run of consecutive events of one subject: a
// caller that records many changes in one transaction (followup's batched
// reminders) pays one round trip per run, not per event. Runs, not all
// events of a subject together, so that an aggregate's events keep their
// order in the outbox.
func (o *Outbox) PublishMany(ctx context.Context, tx *sqlx.Tx, events []Keyed) error {
	if len(events) == 0 {
		return nil
	}
	pub, err := wsql.NewPublisher(wsql.TxFromStdSQL(tx.Tx), wsql.PublisherConfig{SchemaAdapter: outboxSchema{}}, nil)
	if err != nil {
		return fmt.Errorf("outbox publisher: %w", err)
	}
	now := o.now()
	for start := 0; start < len(events); {
		subject := SubjectOf(events[start].Event)
		var run []*message.Message
		for ; start < len(events) && SubjectOf(events[start].Event) == subject; start++ {
			msg, err := newEventMessage(ctx, o.service, events[start].AggregateID, events[start].Event, now)
			if err != nil {
				return err
			}
			run = append(run, msg)
		}
		if err := pub.Publish(subject, run...); err != nil {
			return fmt.Errorf("outbox %s: %w", subject, err)
		}
	}
	if o.wake != nil {
		// After the commit, never before: a relay woken earlier would read
		// the outbox before the rows are visible and then sleep.
		pgdb.AfterCommit(tx, o.wake.Poke)
	}
	return nil
}

// Wake carries "the outbox has new committed rows" from the Outbox of a
// process to its Relay. A poke that arrives while the relay is busy is
// kept (one is enough), so none is lost between a read and the next wait.
type Wake struct {
	c chan struct{}
}

// NewWake returns a Wake to share between an Outbox (WakeOnCommit) and a
// Relay (RelayConfig.Wake).
func NewWake() *Wake { return &Wake{c: make(chan struct{}, 1)} }

// Poke wakes the relay; it never blocks.
func (w *Wake) Poke() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// outboxSchema is the Watermill SQL schema of our single outbox table: the
// topic is the NATS subject, the payload is raw protobuf (bytea). Only the
// insert side is used: the Relay, not Watermill's SQL subscriber, reads the
// table, because it is woken after the commit and publishes in batches.
type outboxSchema struct{}

var errRelayReadsOutbox = errors.New("the outbox is read by messaging.Relay, not by a Watermill SQL subscriber")

func (outboxSchema) InsertQuery(params wsql.InsertQueryParams) (wsql.Query, error) {
	var b strings.Builder
	b.WriteString(`INSERT INTO outbox (event_id, subject, payload, headers) VALUES `)
	args := make([]any, 0, 4*len(params.Msgs))
	for i, msg := range params.Msgs {
		headers, err := json.Marshal(msg.Metadata)
		if err != nil {
			return wsql.Query{}, fmt.Errorf("marshal headers of %s: %w", msg.UUID, err)
		}
		if i > 0 {
			b.WriteString(",")
		}
		n := 4 * i
		fmt.Fprintf(&b, "($%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4)
		args = append(args, msg.UUID, params.Topic, []byte(msg.Payload), headers)
	}
	return wsql.Query{Query: b.String(), Args: args}, nil
}

func (outboxSchema) SelectQuery(wsql.SelectQueryParams) (wsql.Query, error) {
	return wsql.Query{}, errRelayReadsOutbox
}

func (outboxSchema) UnmarshalMessage(wsql.UnmarshalMessageParams) (wsql.Row, error) {
	return wsql.Row{}, errRelayReadsOutbox
}

// SchemaInitializingQueries returns nothing: the table comes from Migrations.
func (outboxSchema) SchemaInitializingQueries(wsql.SchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return nil, nil
}

func (outboxSchema) SubscribeIsolationLevel() stdsql.IsolationLevel {
	return stdsql.LevelDefault
}

var _ wsql.SchemaAdapter = outboxSchema{}
var _ message.Publisher = (*wsql.Publisher)(nil)
