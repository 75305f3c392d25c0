package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clinicops/clinicops/pkg/messaging"
)

// runDLQ lists or replays dead letters. It prints envelope headers and the
// error only, never bodies (they hold patient data).
func runDLQ(ctx context.Context, args []string, out io.Writer) error {
	if len(args) < 1 || (args[0] != "list" && args[0] != "replay") {
		return errors.New("usage: clinicops dlq list|replay [flags]")
	}
	fs := flag.NewFlagSet("dlq "+args[0], flag.ContinueOnError)
	url := fs.String("nats", envOr("NATS_URL", "nats://127.0.0.1:4222"), "NATS server")
	consumer := fs.String("consumer", "", "only dead letters of this consumer (e.g. scheduling_patient_registered)")
	seq := fs.Uint64("seq", 0, "replay: only the dead letter with this DLQ sequence")
	all := fs.Bool("all", false, "replay: every (matching) dead letter")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	nc, err := nats.Connect(*url, nats.Name("clinicops-dlq"))
	if err != nil {
		return fmt.Errorf("connect %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, messaging.DLQStream)
	if err != nil {
		return fmt.Errorf("DLQ stream: %w", err)
	}
	letters, err := readDeadLetters(ctx, stream, *consumer)
	if err != nil {
		return err
	}
	if args[0] == "list" {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		_, _ = fmt.Fprintln(tw, "SEQ\tFAILED AT\tCONSUMER\tSUBJECT\tEVENT ID\tATTEMPTS\tERROR")
		for _, m := range letters {
			h := m.Header
			_, _ = fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Sequence, h.Get(messaging.HeaderDLQFailedAt), h.Get(messaging.HeaderDLQConsumer),
				h.Get(messaging.HeaderDLQOriginalSubject), h.Get(messaging.HeaderID), h.Get(messaging.HeaderDLQAttempts), h.Get(messaging.HeaderDLQError))
		}
		return tw.Flush()
	}
	if *seq == 0 && !*all {
		return errors.New("replay needs -seq N or -all")
	}
	replayed := 0
	for _, m := range letters {
		if *seq != 0 && m.Sequence != *seq {
			continue
		}
		if err := replay(ctx, js, stream, m); err != nil {
			return err
		}
		replayed++
	}
	_, _ = fmt.Fprintf(out, "replayed %d dead letter(s)\n", replayed)
	return nil
}

func readDeadLetters(ctx context.Context, stream jetstream.Stream, consumer string) ([]*jetstream.RawStreamMsg, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []*jetstream.RawStreamMsg
	for s := info.State.FirstSeq; s != 0 && s <= info.State.LastSeq; s++ {
		m, err := stream.GetMsg(ctx, s)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read DLQ %d: %w", s, err)
		}
		if consumer == "" || m.Header.Get(messaging.HeaderDLQConsumer) == consumer {
			out = append(out, m)
		}
	}
	return out, nil
}

// replay republishes a dead letter to its original subject with its
// original headers (same ce-id: consumers that processed it skip it) and a
// new Nats-Msg-Id, then removes it from the DLQ.
func replay(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, m *jetstream.RawStreamMsg) error {
	subject := m.Header.Get(messaging.HeaderDLQOriginalSubject)
	if subject == "" {
		return fmt.Errorf("DLQ %d has no original subject", m.Sequence)
	}
	msg := nats.NewMsg(subject)
	msg.Data = m.Data
	for k, vs := range m.Header {
		if len(k) > 4 && k[:4] == "dlq-" {
			continue
		}
		msg.Header[k] = vs
	}
	msg.Header.Set(messaging.HeaderMsgID, fmt.Sprintf("replay:%d:%s", m.Sequence, m.Header.Get(messaging.HeaderID)))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(pctx, msg); err != nil {
		return fmt.Errorf("replay DLQ %d: %w", m.Sequence, err)
	}
	if err := stream.DeleteMsg(ctx, m.Sequence); err != nil {
		return fmt.Errorf("remove replayed DLQ %d: %w", m.Sequence, err)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
