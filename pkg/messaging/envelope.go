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

// Envelope headers: CloudEvents 1.0 in binary mode as the NATS protocol
// binding carries it, so a consumer using a CloudEvents SDK sees every
// attribute. Context attributes are ce-<name> headers; the data content type
// is the binding's content-type header (not ce-datacontenttype); extension
// attributes are ce-<name> too, with names of lowercase letters and digits
// only, or SDKs do not see them.
const (
	HeaderID          = "ce-id"
	HeaderType        = "ce-type"
	HeaderSource      = "ce-source"
	HeaderTime        = "ce-time"
	HeaderSubject     = "ce-subject"
	HeaderSpecVersion = "ce-specversion"
	HeaderContentType = "content-type"
	// HeaderCorrelationID is the correlationid extension: the id of the
	// request or flow that led to the event, kept along a chain of events.
	HeaderCorrelationID = "ce-correlationid"
	// HeaderCausationID is the causationid extension: the id of what directly
	// caused the event (the HTTP request id, or the id of the event whose
	// handler published it). Absent when unknown.
	HeaderCausationID = "ce-causationid"

	// legacyHeaderCorrelationID is where events published before
	// ce-correlationid carried it; consumers still read it.
	legacyHeaderCorrelationID = "correlation-id"
	// HeaderMsgID is JetStream's de-duplication header; always the event id.
	HeaderMsgID = "Nats-Msg-Id"

	contentTypeProtobuf = "application/protobuf"
)

// SourceOf is the ce-source of the events a service publishes: the URI
// reference /clinicops/<service>, e.g. /clinicops/intake. Together with
// ce-id it identifies an event uniquely.
func SourceOf(service string) string { return "/clinicops/" + service }

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

// newEventMessage builds the Watermill message for one event a service
// publishes: a UUIDv7 id, the envelope headers and the protobuf body.
// Correlation and causation come from ctx (set by the HTTP layer or by the
// handler of the causing event).
func newEventMessage(ctx context.Context, service, aggregateID string, ev proto.Message, now time.Time) (*message.Message, error) {
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
		HeaderSource:        SourceOf(service),
		HeaderTime:          now.UTC().Format(time.RFC3339Nano),
		HeaderSubject:       aggregateID,
		HeaderContentType:   contentTypeProtobuf,
		HeaderCorrelationID: corr,
	}
	if cause := correlation.Causation(ctx); cause != "" {
		msg.Metadata[HeaderCausationID] = cause
	}
	msg.SetContext(ctx)
	return msg, nil
}

// NewNATSMsg builds the NATS message the relay would publish for one event
// of service: envelope headers, Nats-Msg-Id = event id, protobuf body. Tools
// and tests use it to inject events; services publish only through the
// Outbox.
func NewNATSMsg(ctx context.Context, service, aggregateID string, ev proto.Message, now time.Time) (*nats.Msg, error) {
	msg, err := newEventMessage(ctx, service, aggregateID, ev, now)
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
