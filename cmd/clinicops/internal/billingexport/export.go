package billingexport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
)

// Stream and Subject are where billing publishes its postings.
const (
	Stream  = "BILLING"
	Subject = "clinicops.billing.v1.LedgerPosted"
)

// Config is one export run.
type Config struct {
	JS      jetstream.JetStream
	Journal *Journal
	// Durable is the consumer's name: its position in the stream survives
	// the export's restarts; a new name replays the stream from the start.
	Durable string
	// Once stops when the consumer has caught up instead of following.
	Once bool
	// AckWait is how long JetStream waits for an ack before it delivers a
	// posting again (after a crash between the write and the ack).
	AckWait time.Duration
	Log     *slog.Logger
}

// Stats counts what a run did.
type Stats struct {
	Written    int // postings appended
	Duplicates int // postings already in the journal, acknowledged only
}

// ErrBadEvent: an event the export cannot write faithfully. It stops
// rather than skip money in an accounting journal.
var ErrBadEvent = errors.New("billing export: unusable event")

// Run exports until ctx ends, or, with Once, until nothing is pending.
//
// The consumer has one message in flight (MaxAckPending 1): the journal's
// order is then the stream's order even across crashes (a posting not
// acknowledged before a crash comes again before any later one), so a
// journal written in pieces is byte for byte the one a single replay
// writes. Each posting is synced to disk before its ack; one that was
// written but not acknowledged is recognised by its posting id and only
// acknowledged.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	var st Stats
	if cfg.AckWait == 0 {
		cfg.AckWait = 10 * time.Second
	}
	cons, err := cfg.JS.CreateOrUpdateConsumer(ctx, Stream, jetstream.ConsumerConfig{
		Durable: cfg.Durable, Description: "clinicops billing-export journal",
		FilterSubject: Subject, DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: cfg.AckWait, MaxAckPending: 1, MaxDeliver: -1,
	})
	if err != nil {
		return st, fmt.Errorf("consumer %s on %s: %w", cfg.Durable, Stream, err)
	}
	if cfg.Log != nil {
		cfg.Log.Info("billing export", "durable", cfg.Durable, "journal_postings", cfg.Journal.Postings(), "once", cfg.Once)
	}
	for {
		wait, cancel := context.WithTimeout(ctx, time.Second)
		msg, err := cons.Next(jetstream.FetchContext(wait))
		cancel()
		switch {
		case ctx.Err() != nil:
			return st, nil
		case errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
			if cfg.Once {
				done, err := caughtUp(ctx, cons)
				if err != nil || done {
					return st, err
				}
			}
			continue
		case err != nil:
			return st, fmt.Errorf("fetch: %w", err)
		}
		if err := handle(ctx, cfg.Journal, msg, &st); err != nil {
			return st, err
		}
	}
}

// caughtUp: every posting in the stream has been delivered and acknowledged.
func caughtUp(ctx context.Context, cons jetstream.Consumer) (bool, error) {
	info, err := cons.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("consumer info: %w", err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

func handle(ctx context.Context, j *Journal, msg jetstream.Msg, st *Stats) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	ev := &billingv1.LedgerPosted{}
	if err := proto.Unmarshal(msg.Data(), ev); err != nil {
		return fmt.Errorf("%w: stream sequence %d: %w", ErrBadEvent, meta.Sequence.Stream, err)
	}
	if j.Has(ev.GetPostingId()) {
		st.Duplicates++
		return msg.DoubleAck(ctx)
	}
	rows, err := Rows(msg.Headers().Get(messaging.HeaderID), ev)
	if err != nil {
		return fmt.Errorf("%w: stream sequence %d: %w", ErrBadEvent, meta.Sequence.Stream, err)
	}
	if err := j.Append(ev.GetPostingId(), rows); err != nil {
		return err
	}
	st.Written++
	return msg.DoubleAck(ctx)
}

// Rows is a posting's journal rows, one per line. Amounts are decimal in
// the currency's major unit ("20000.00" CNY), debit or credit.
func Rows(eventID string, ev *billingv1.LedgerPosted) ([][]string, error) {
	lines := ev.GetLines()
	if ev.GetPostingId() == "" || len(lines) < 2 {
		return nil, errors.New("a posting needs an id and at least two lines")
	}
	var debits, credits int64
	rows := make([][]string, 0, len(lines))
	for i, l := range lines {
		amount, err := decimal(l.GetAmount())
		if err != nil {
			return nil, err
		}
		if l.GetAmount().GetCurrency() != lines[0].GetAmount().GetCurrency() {
			return nil, errors.New("a posting mixes currencies")
		}
		debit, credit := "", ""
		switch l.GetSide() {
		case "debit":
			debit, debits = amount, debits+l.GetAmount().GetValue()
		case "credit":
			credit, credits = amount, credits+l.GetAmount().GetValue()
		default:
			return nil, fmt.Errorf("line %d has side %q", i+1, l.GetSide())
		}
		rows = append(rows, []string{
			ev.GetOccurredAt().AsTime().UTC().Format("2006-01-02T15:04:05.000000Z"), ev.GetPatientId(),
			strconv.FormatInt(ev.GetPostingSequence(), 10), ev.GetPostingId(), strconv.Itoa(i + 1), strconv.Itoa(len(lines)),
			ev.GetKind(), l.GetAccount(), debit, credit, l.GetAmount().GetCurrency(),
			ev.GetInvoiceNumber(), ev.GetCreditNoteNumber(), ev.GetPaymentReference(), eventID,
		})
	}
	if debits != credits {
		return nil, fmt.Errorf("posting %s does not balance: debits %d, credits %d", ev.GetPostingId(), debits, credits)
	}
	return rows, nil
}

// exponents is ISO 4217's minor unit of the currencies billing accepts
// (services/billing's money package); an amount in another currency stops
// the export rather than be written with a guessed decimal point.
var exponents = map[string]int{"CNY": 2, "HKD": 2, "USD": 2, "EUR": 2, "GBP": 2, "SGD": 2, "JPY": 0, "KRW": 0}

func decimal(m *billingv1.Money) (string, error) {
	exp, ok := exponents[m.GetCurrency()]
	if !ok {
		return "", fmt.Errorf("currency %q is not known to the export", m.GetCurrency())
	}
	v := m.GetValue()
	if v <= 0 {
		return "", fmt.Errorf("a line amount of %d", v)
	}
	s := strconv.FormatInt(v, 10)
	if exp == 0 {
		return s, nil
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:], nil
}
