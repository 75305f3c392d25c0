// Package messaging is the event platform shared by the services: the
// transactional outbox and its relay to JetStream, stream and consumer setup,
// a JetStream subscriber for Watermill, and a router whose handlers run
// idempotently in one database transaction, retry with backoff and dead-letter
// what keeps failing.
package messaging

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/correlation"
	"github.com/clinicops/clinicops/pkg/pgdb"
)

// Envelope headers (CloudEvents NATS binding style).
const (
	HeaderID            = "ce-id"
	HeaderType          = "ce-type"
	HeaderSource        = "ce-source"
	HeaderTime          = "ce-time"
	HeaderSubject       = "ce-subject"
	HeaderSpecVersion   = "ce-specversion"
	HeaderContentType   = "content-type"
	HeaderCorrelationID = "correlation-id"
	HeaderCausationID   = "causation-id"
	// HeaderMsgID is JetStream's de-duplication header; always the event id.
	HeaderMsgID = "Nats-Msg-Id"

	contentTypeProtobuf = "application/protobuf"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations are the platform tables (outbox, processed_events,
// idempotency_keys) that every service database carries. Apply them before
// the service's own.
var Migrations = pgdb.MigrationSource{Name: "platform", FS: migrationsFS, Dir: "migrations"}

// SubjectOf is the NATS subject of an event: its proto full name,
// e.g. clinicops.intake.v1.PatientRegistered.
func SubjectOf(m proto.Message) string {
	return string(m.ProtoReflect().Descriptor().FullName())
}

// StreamOfSubject is the stream holding a subject: clinicops.<service>.… ->
// <SERVICE>.
func StreamOfSubject(subject string) (string, error) {
	svc, err := ServiceOfSubject(subject)
	return strings.ToUpper(svc), err
}

// ServiceOfSubject is the service that publishes a subject:
// clinicops.<service>.… -> <service>.
func ServiceOfSubject(subject string) (string, error) {
	parts := strings.Split(subject, ".")
	if len(parts) < 3 || parts[0] != "clinicops" || parts[1] == "" {
		return "", fmt.Errorf("subject %q is not clinicops.<service>.…", subject)
	}
	return parts[1], nil
}

// newEventMessage builds the Watermill message for one event: a UUIDv7 id,
// the envelope headers and the protobuf body. Correlation and causation come
// from ctx (set by the HTTP layer or by the handler of the causing event).
func newEventMessage(ctx context.Context, source, aggregateID string, ev proto.Message, now time.Time) (*message.Message, error) {
	if aggregateID == "" {
		return nil, errors.New("event without aggregate id")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("event id: %w", err)
	}
	body, err := proto.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", SubjectOf(ev), err)
	}
	msg := message.NewMessage(id.String(), body)
	corr := correlation.ID(ctx)
	if corr == "" {
		corr = id.String()
	}
	msg.Metadata = message.Metadata{
		HeaderSpecVersion:   "1.0",
		HeaderID:            id.String(),
		HeaderType:          SubjectOf(ev),
		HeaderSource:        source,
		HeaderTime:          now.UTC().Format(time.RFC3339Nano),
		HeaderSubject:       aggregateID,
		HeaderContentType:   contentTypeProtobuf,
		HeaderCorrelationID: corr,
		HeaderCausationID:   correlation.Causation(ctx),
	}
	msg.SetContext(ctx)
	return msg, nil
}

// NewNATSMsg builds the NATS message the relay would publish for one event:
// envelope headers, Nats-Msg-Id = event id, protobuf body. Tools and tests
// use it to inject events; services publish only through the Outbox.
func NewNATSMsg(ctx context.Context, source, aggregateID string, ev proto.Message, now time.Time) (*nats.Msg, error) {
	msg, err := newEventMessage(ctx, source, aggregateID, ev, now)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(SubjectOf(ev))
	m.Data = msg.Payload
	for k, v := range msg.Metadata {
		m.Header.Set(k, v)
	}
	m.Header.Set(HeaderMsgID, msg.UUID)
	return m, nil
}
