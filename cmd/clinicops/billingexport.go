package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clinicops/clinicops/cmd/clinicops/internal/billingexport"
)

// runBillingExport is `clinicops billing-export`: billing's postings as a
// CSV journal (see internal/billingexport and docs/billing-events.md).
func runBillingExport(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("billing-export", flag.ContinueOnError)
	path := fs.String("out", "billing-journal.csv", "the CSV journal to append to (created with its header)")
	durable := fs.String("durable", "billing_export", "the durable JetStream consumer's name; a new name replays BILLING from the start")
	url := fs.String("nats", envOr("NATS_URL", "nats://127.0.0.1:4222"), "NATS server")
	once := fs.Bool("once", false, "exit once every posting in the stream is in the journal, instead of following")
	ackWait := fs.Duration("ack-wait", 10*time.Second, "how long JetStream waits for an ack before redelivering (after a crash)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	j, err := billingexport.OpenJournal(*path)
	if err != nil {
		return err
	}
	defer func() { _ = j.Close() }()
	nc, err := nats.Connect(*url, nats.Name("clinicops-billing-export"))
	if err != nil {
		return fmt.Errorf("connect %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	before := j.Postings()
	st, err := billingexport.Run(ctx, billingexport.Config{JS: js, Journal: j, Durable: *durable, Once: *once, AckWait: *ackWait, Log: log})
	_, _ = fmt.Fprintf(out, "billing-export: %s holds %d postings (%d at start, %d written, %d already there)\n",
		*path, j.Postings(), before, st.Written, st.Duplicates)
	return err
}
