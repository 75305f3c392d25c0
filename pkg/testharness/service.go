package testharness

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/platform"
)

// Service is one service running in the test process on a fresh database
// and an in-process JetStream server, driven through its HTTP port and its
// events.
type Service struct {
	Runtime *platform.Runtime
	DB      *sqlx.DB
	NATS    *NATS
	Tokens  map[httpx.Role]string
	HTTP    *http.Client
}

// ServiceOption adjusts the options a test service is built with.
type ServiceOption func(*platform.Options)

// WithEnv sets the service's own settings (platform.Definition.Config reads
// them), as the environment would in a binary.
func WithEnv(kv map[string]string) ServiceOption {
	return func(o *platform.Options) {
		o.Getenv = func(k string) string { return kv[k] }
	}
}

// StartService builds a service from its description (the same value the
// binary and `clinicops dev` use) on a database cloned from a template
// migrated once, and runs it until the test ends.
func StartService(t testing.TB, svc platform.Service, opts ...ServiceOption) *Service {
	t.Helper()
	return StartServices(t, []platform.Service{svc}, opts...)[0]
}

// StartServices runs several services together, as `clinicops dev` does:
// one JetStream server, one set of tokens, a database each. The options
// apply to every service.
func StartServices(t testing.TB, svcs []platform.Service, opts ...ServiceOption) []*Service {
	t.Helper()
	n := StartNATS(t)
	plain := map[httpx.Role][]string{}
	tokens := map[httpx.Role]string{}
	for _, r := range httpx.Roles() {
		tokens[r] = httpx.GenerateToken()
		plain[r] = []string{tokens[r]}
	}
	store, err := httpx.NewTokenStore(plain)
	require.NoError(t, err)
	dbs := make([]*sqlx.DB, len(svcs))
	dsns := make([]string, len(svcs))
	for i, svc := range svcs {
		dbs[i], dsns[i] = DB(t, svc.AllMigrations()...)
	}
	// Registered after the databases, so the services stop before the
	// databases are dropped.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	out := make([]*Service, len(svcs))
	for i, svc := range svcs {
		o := platform.Options{
			Config: platform.Config{Service: svc.Name, HTTPAddr: "127.0.0.1:0", DatabaseURL: dsns[i], NATSURL: n.Server.ClientURL()},
			Tokens: store, Log: Logger(),
			Processor: messaging.ProcessorConfig{Backoff: func(int) time.Duration { return 20 * time.Millisecond }},
			Relay:     messaging.RelayConfig{PollInterval: 200 * time.Millisecond},
		}
		for _, opt := range opts {
			opt(&o)
		}
		rt, err := svc.New(ctx, o)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.Run(ctx); err != nil {
				t.Errorf("%s: %v", svc.Name, err)
			}
		}()
		out[i] = &Service{Runtime: rt, DB: dbs[i], NATS: n, Tokens: tokens, HTTP: &http.Client{Timeout: 10 * time.Second}}
	}
	return out
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

// Do sends a request as role ("" = no token). A string or []byte body is
// sent as is; anything else is JSON-encoded.
func (s *Service) Do(t testing.TB, role httpx.Role, method, path string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, "http://"+s.Runtime.Addr()+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+s.Tokens[role])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Injected is an event a test published as another service would.
type Injected struct{ Msg *nats.Msg }

// Publish injects an event into JetStream as another service would publish it.
func (s *Service) Publish(t testing.TB, source, aggregateID string, ev proto.Message) Injected {
	t.Helper()
	m, err := messaging.NewNATSMsg(context.Background(), source, aggregateID, ev, time.Now())
	require.NoError(t, err)
	_, err = s.NATS.JS.PublishMsg(context.Background(), m)
	require.NoError(t, err)
	return Injected{Msg: m}
}

// Republish publishes the same event (same ce-id) again under a new
// Nats-Msg-Id, as a redelivery beyond JetStream's duplicate window would.
func (s *Service) Republish(t testing.TB, in Injected) {
	t.Helper()
	m := nats.NewMsg(in.Msg.Subject)
	m.Data = in.Msg.Data
	for k, vs := range in.Msg.Header {
		m.Header[k] = append([]string(nil), vs...)
	}
	m.Header.Set(messaging.HeaderMsgID, in.Msg.Header.Get(messaging.HeaderMsgID)+"-again")
	_, err := s.NATS.JS.PublishMsg(context.Background(), m)
	require.NoError(t, err)
}

// WaitConsumed waits until the durable consumer has no message of its
// subject pending or awaiting ack.
func (s *Service) WaitConsumed(t testing.TB, stream, consumer string) {
	t.Helper()
	ctx := context.Background()
	Eventually(t, 15*time.Second, func() bool {
		c, err := s.NATS.JS.Consumer(ctx, stream, consumer)
		if err != nil {
			return false
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return false
		}
		// The consumer has been handed the stream's last message for its
		// filter (not only "nothing pending", which a consumer that has not
		// caught up with the stream yet can report)...
		if st, err := s.NATS.JS.Stream(ctx, stream); err == nil {
			last, err := st.GetLastMsgForSubject(ctx, ci.Config.FilterSubject)
			if err == nil && ci.Delivered.Stream < last.Sequence {
				return false
			}
		}
		// ...and acknowledged all it was handed: a message nak'd with a
		// delay (its handler failed and will retry) is neither pending nor
		// waiting for an ack while the delay runs; only the ack floor
		// lagging behind what was delivered shows it.
		return ci.NumPending == 0 && ci.NumAckPending == 0 && ci.NumRedelivered == 0 &&
			ci.AckFloor.Consumer == ci.Delivered.Consumer
	}, "consumer %s did not consume %s", consumer, stream)
}

// Count runs a count query on the service's database.
func (s *Service) Count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB.Get(&n, query, args...))
	return n
}
