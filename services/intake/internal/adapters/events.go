package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
	"github.com/clinicops/clinicops/services/intake/internal/domain/course"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

// writeEvents writes the events an aggregate recorded to tx's outbox, in
// the order recorded. Every repository uses it, so domain events become
// protobuf in one place (toProto) and only ever inside the transaction
// that stores the aggregate.
func writeEvents[E any](ctx context.Context, tx *sqlx.Tx, outbox *messaging.Outbox, events []E) error {
	for _, ev := range events {
		aggregateID, msg, err := toProto(ev)
		if err != nil {
			return err
		}
		if err := outbox.Publish(ctx, tx, aggregateID, msg); err != nil {
			return err
		}
	}
	return nil
}

// toProto maps a domain event to its wire message and the id of the
// aggregate it is about (ce-subject). Events carry only the personal data
// their consumers need: a patient's national id, address and emergency
// contact stay in intake.
func toProto(ev any) (aggregateID string, msg proto.Message, err error) {
	switch e := ev.(type) {
	case patient.Registered:
		d := e.Details
		return e.PatientID.String(), &intakev1.PatientRegistered{
			PatientId: e.PatientID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.At),
			FamilyName: d.FamilyName, GivenName: d.GivenName, BirthDate: d.BirthDate.Format(time.DateOnly),
			Sex: string(d.Sex), Phone: d.Phone, Email: d.Email, PreferredLanguage: d.PreferredLanguage,
			TimeZone: d.TimeZone,
		}, nil
	case patient.Updated:
		d := e.Details
		return e.PatientID.String(), &intakev1.PatientUpdated{
			PatientId: e.PatientID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.At),
			FamilyName: d.FamilyName, GivenName: d.GivenName, BirthDate: d.BirthDate.Format(time.DateOnly),
			Sex: string(d.Sex), Phone: d.Phone, Email: d.Email, PreferredLanguage: d.PreferredLanguage,
			TimeZone: d.TimeZone,
		}, nil
	case consent.Recorded:
		in := e.Input
		return e.ConsentID.String(), &intakev1.ConsentRecorded{
			PatientId: e.PatientID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.At),
			ConsentId: e.ConsentID.String(), Kind: string(in.Kind), Program: in.Program, FormVersion: in.FormVersion,
			ProtocolId: in.ProtocolID, TrialId: in.TrialID, SignedAt: timestamppb.New(in.SignedAt),
		}, nil
	case consent.Withdrawn:
		return e.ConsentID.String(), &intakev1.ConsentWithdrawn{
			PatientId: e.PatientID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.At),
			ConsentId: e.ConsentID.String(), Kind: string(e.Kind), Program: e.Program, Reason: e.Reason,
		}, nil
	case screening.Completed:
		codes := make([]string, len(e.Result.Reasons))
		for i, r := range e.Result.Reasons {
			codes[i] = r.Code
		}
		return e.ScreeningID.String(), &intakev1.ScreeningCompleted{
			PatientId: e.PatientID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.At),
			ScreeningId: e.ScreeningID.String(), Program: e.Program, ScreeningVersion: e.ScreeningVersion,
			Eligible: e.Result.Eligible, ReasonCodes: codes,
		}, nil
	case course.Requested:
		in := e.Input
		return e.CourseID.String(), &intakev1.CourseRequested{
			CourseId: e.CourseID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.At),
			PatientId: e.PatientID.String(), Program: in.Program, IndicationSystem: in.Indication.System,
			IndicationCode: in.Indication.Code, PreferredStart: in.PreferredStart.Format(time.DateOnly),
			ProtocolVersion: e.ProtocolVersion,
		}, nil
	case course.CancellationRequested:
		return e.CourseID.String(), &intakev1.CourseCancellationRequested{
			CourseId: e.CourseID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.At),
			PatientId: e.PatientID.String(), Reason: e.Reason,
		}, nil
	}
	return "", nil, fmt.Errorf("no wire message for domain event %T", ev)
}
