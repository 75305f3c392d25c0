package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// Metadata keys the subscriber adds to every message (never sent on the wire).
const (
	metaSubject   = "_nats_subject"
	metaDelivered = "_nats_delivered"
	metaStreamSeq = "_nats_stream_seq"
	// metaMalformed names a header that arrived with several values.
	metaMalformed = "_malformed_header"
)

// subscriber is a Watermill Subscriber over durable JetStream pull consumers
// that the Processor creates explicitly. Subscribe's topic is the durable
// consumer's name. Unlike watermill-nats' JetStream subscriber it never fails
// to turn a NATS message into a Watermill message (a malformed one is passed
// on, flagged, for the handler to dead-letter), it runs Workers messages at
// once, and it turns a Nack into a delayed redelivery with backoff.
type subscriber struct {
	js      jetstream.JetStream
	workers int
	backoff func(attempt int) time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	streams map[string]string // consumer name -> stream
	closing chan struct{}
	closed  bool
	wg      sync.WaitGroup
}

func newSubscriber(js jetstream.JetStream, workers int, backoff func(int) time.Duration, log *slog.Logger) *subscriber {
	return &subscriber{js: js, workers: workers, backoff: backoff, log: log, streams: map[string]string{}, closing: make(chan struct{})}
}

func (s *subscriber) register(consumer, stream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams[consumer] = stream
}

// Subscribe consumes the durable consumer named topic.
func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	stream, ok := s.streams[topic]
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errors.New("subscriber closed")
	}
	if !ok {
		return nil, fmt.Errorf("consumer %s is not registered", topic)
	}
	out := make(chan *message.Message)
	in := make(chan jetstream.Msg)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.closing:
			cancel()
		}
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(in)
		s.pull(ctx, stream, topic, in)
	}()
	var workers sync.WaitGroup
	for range s.workers {
		workers.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer workers.Done()
			for m := range in {
				s.deliver(ctx, m, out)
			}
		}()
	}
	go func() {
		workers.Wait()
		cancel()
		close(out)
	}()
	return out, nil
}

// pull feeds in from the consumer until ctx ends, re-opening the iterator
// after a terminal error (consumer re-created, server restarted).
func (s *subscriber) pull(ctx context.Context, stream, name string, in chan<- jetstream.Msg) {
	retry := 100 * time.Millisecond
	for ctx.Err() == nil {
		cons, err := s.js.Consumer(ctx, stream, name)
		if err != nil {
			s.log.Warn("get consumer", "consumer", name, "err", err)
			sleepCtx(ctx, retry)
			retry = min(2*retry, 5*time.Second)
			continue
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(2*s.workers), jetstream.PullHeartbeat(2*time.Second), jetstream.PullExpiry(5*time.Second))
		if err != nil {
			s.log.Warn("open consumer iterator", "consumer", name, "err", err)
			sleepCtx(ctx, retry)
			retry = min(2*retry, 5*time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, it.Stop)
		for {
			m, err := it.Next()
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("consumer iterator ended", "consumer", name, "err", err)
				}
				break
			}
			retry = 100 * time.Millisecond
			select {
			case in <- m:
			case <-ctx.Done():
				// Not handed to a worker: JetStream redelivers it after AckWait.
			}
		}
		stop()
		it.Stop()
		sleepCtx(ctx, retry)
	}
}

func (s *subscriber) deliver(ctx context.Context, m jetstream.Msg, out chan<- *message.Message) {
	msg := toWatermill(m)
	msg.SetContext(ctx)
	select {
	case out <- msg:
	case <-ctx.Done():
		return
	}
	select {
	case <-msg.Acked():
		if err := m.Ack(); err != nil {
			// The effect is committed; a redelivery is absorbed by processed_events.
			s.log.Warn("ack", "msg", msg.UUID, "err", err)
		}
	case <-msg.Nacked():
		attempt, _ := strconv.Atoi(msg.Metadata.Get(metaDelivered))
		if err := m.NakWithDelay(s.backoff(attempt)); err != nil {
			s.log.Warn("nak", "msg", msg.UUID, "err", err)
		}
	case <-ctx.Done():
		// Shutting down mid-handler: no ack, so JetStream redelivers.
	}
}

// toWatermill never fails: what is wrong with a message is left for the
// handler to find and dead-letter.
func toWatermill(m jetstream.Msg) *message.Message {
	md := message.Metadata{}
	for k, vs := range m.Headers() {
		md[k] = strings.Join(vs, ",")
		if len(vs) > 1 {
			md[metaMalformed] = k
		}
	}
	md[metaSubject] = m.Subject()
	delivered := uint64(1)
	if meta, err := m.Metadata(); err == nil {
		delivered = meta.NumDelivered
		md[metaStreamSeq] = strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	md[metaDelivered] = strconv.FormatUint(delivered, 10)
	id := md.Get(HeaderID)
	if id == "" || len(id) > 64 {
		id = "seq-" + md.Get(metaStreamSeq)
	}
	msg := message.NewMessage(id, m.Data())
	msg.Metadata = md
	return msg
}

// Close stops all subscriptions and waits for their goroutines.
func (s *subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

var _ message.Subscriber = (*subscriber)(nil)
