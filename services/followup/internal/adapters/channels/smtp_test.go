package channels

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// sink is a real SMTP server (go-smtp) that keeps what it receives.
type sink struct {
	addr string

	mu       sync.Mutex
	sessions int
	conns    []*gosmtp.Conn
	mails    []received
	// rcptReply, if set for an address, is the server's reply to RCPT.
	rcptReply map[string]*gosmtp.SMTPError
	// dropAfterData drops the connection after taking that many messages'
	// data, before answering: the message arrived, its sender never knows.
	dropAfterData int
	// holdData, if set, keeps the server from answering the end of data
	// until it is closed; dataHeld is told when it starts waiting.
	holdData chan struct{}
	dataHeld chan struct{}
	// user and pass, if set, are the only credentials AUTH PLAIN takes.
	user, pass string
}

type received struct {
	from, to string
	data     []byte
	tls      bool
	authed   string
}

func (s *sink) counts() (sessions, mails int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions, len(s.mails)
}

func (s *sink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.mails...)
}

// dropAll cuts every open connection, as a server does to idle clients.
func (s *sink) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Conn().Close()
	}
}

type sinkOption func(*gosmtp.Server, *sink)

func withTLS(cert tls.Certificate) sinkOption {
	return func(srv *gosmtp.Server, _ *sink) {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
}

func startSink(t testing.TB, opts ...sinkOption) *sink {
	t.Helper()
	s := &sink{rcptReply: map[string]*gosmtp.SMTPError{}}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sessions++
		s.conns = append(s.conns, c)
		return &sinkSession{sink: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	for _, o := range opts {
		o(srv, s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

type sinkSession struct {
	sink     *sink
	conn     *gosmtp.Conn
	from, to string
	authed   string
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if ss.sink.user == "" || user != ss.sink.user || pass != ss.sink.pass {
			return gosmtp.ErrAuthFailed
		}
		ss.authed = user
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.sink.user != "" && ss.authed == "" {
		return gosmtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.sink.mu.Lock()
	reply := ss.sink.rcptReply[to]
	ss.sink.mu.Unlock()
	if reply != nil {
		return reply
	}
	ss.to = to
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	s := ss.sink
	s.mu.Lock()
	s.mails = append(s.mails, received{from: ss.from, to: ss.to, data: data, tls: isTLS, authed: ss.authed})
	drop := s.dropAfterData > 0
	if drop {
		s.dropAfterData--
	}
	hold, held := s.holdData, s.dataHeld
	s.mu.Unlock()
	if drop {
		_ = ss.conn.Conn().Close()
		return errors.New("dropped")
	}
	if hold != nil {
		close(held)
		<-hold
	}
	return nil
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", "" }
func (ss *sinkSession) Logout() error { return nil }

func newTestSMTP(t *testing.T, s *sink, edit ...func(*SMTPConfig)) *SMTP {
	t.Helper()
	cfg := SMTPConfig{Addr: s.addr, From: "Clinic <noreply@clinic.test>", Timeout: 10 * time.Second,
		Now: func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := NewSMTP(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testMessage(key string) app.Message {
	return app.Message{IdempotencyKey: key, To: "patient@example.test", Kind: "visit_24h", Language: "zh-CN",
		Subject: "明天的输注预约提醒：请提前30分钟到达诊所，并携带身份证和既往检查结果",
		Body:    "张女士您好：\n您的输注预约在明天上午九点。\n.\n请空腹。Ünïcödé and a line of exactly seventy-six characters......................\n"}
}

func TestSMTPDeliversAUTF8MessageWithAStableMessageID(t *testing.T) {
	t.Parallel()
	s := startSink(t)
	ch := newTestSMTP(t, s)
	msg := testMessage("reminder:7b1c/visit_24h")

	require.NoError(t, ch.Send(context.Background(), msg))

	got := s.received()
	require.Len(t, got, 1)
	require.Equal(t, "noreply@clinic.test", got[0].from)
	require.Equal(t, "patient@example.test", got[0].to)
	m, err := mail.ReadMessage(bytes.NewReader(got[0].data))
	require.NoError(t, err)
	require.Equal(t, "<reminder=3A7b1c=2Fvisit_24h@clinicops.followup>", m.Header.Get("Message-ID"))
	require.Equal(t, MessageID(msg.IdempotencyKey, DefaultMessageIDDomain), m.Header.Get("Message-ID"))
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, msg.Subject, subject)
	require.Equal(t, "text/plain; charset=utf-8", m.Header.Get("Content-Type"))
	require.Equal(t, "zh-CN", m.Header.Get("Content-Language"))
	require.Equal(t, "1.0", m.Header.Get("MIME-Version"))
	require.Equal(t, "quoted-printable", m.Header.Get("Content-Transfer-Encoding"))
	to, err := m.Header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "patient@example.test", to[0].Address)
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	require.NoError(t, err)
	require.Equal(t, strings.ReplaceAll(msg.Body, "\n", "\r\n"), string(body))
	for _, line := range strings.Split(string(got[0].data), "\r\n") {
		require.LessOrEqual(t, len(line), 78, "line too long: %q", line)
		for _, ch := range line {
			require.Less(t, ch, rune(0x80), "8-bit byte in %q", line)
		}
	}
}

func TestSMTPRetryAfterUnknownOutcomeIsTheSameMessage(t *testing.T) {
	t.Parallel()
	s := startSink(t, func(_ *gosmtp.Server, s *sink) { s.dropAfterData = 1 })
	ch := newTestSMTP(t, s)
	msg := testMessage("reminder-42")

	err := ch.Send(context.Background(), msg)
	require.ErrorIs(t, err, app.ErrOutcomeUnknown)
	require.NotErrorIs(t, err, app.ErrRefused)
	require.NoError(t, ch.Send(context.Background(), msg), "the retry reconnects")

	got := s.received()
	require.Len(t, got, 2, "the server took both")
	ids := map[string]bool{}
	for _, r := range got {
		m, err := mail.ReadMessage(bytes.NewReader(r.data))
		require.NoError(t, err)
		ids[m.Header.Get("Message-ID")] = true
	}
	require.Len(t, ids, 1, "a receiver can tell the two are one message")
	sessions, _ := s.counts()
	require.Equal(t, 2, sessions)
}

func TestSMTPReusesOneConnectionForSequentialSends(t *testing.T) {
	t.Parallel()
	s := startSink(t)
	ch := newTestSMTP(t, s)
	for i := range 20 {
		require.NoError(t, ch.Send(context.Background(), testMessage(fmt.Sprintf("k-%d", i))))
	}
	sessions, mails := s.counts()
	require.Equal(t, 20, mails)
	require.Equal(t, 1, sessions, "twenty messages, one connection")
}

func TestSMTPConcurrentSendsShareAtMostMaxConns(t *testing.T) {
	t.Parallel()
	s := startSink(t)
	ch := newTestSMTP(t, s, func(c *SMTPConfig) { c.MaxConns = 3 })
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() { errs <- ch.Send(context.Background(), testMessage(fmt.Sprintf("k-%d", i))) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	sessions, mails := s.counts()
	require.Equal(t, 60, mails)
	require.LessOrEqual(t, sessions, 3)
}

func TestSMTPReconnectsAfterTheServerDropsTheConnection(t *testing.T) {
	t.Parallel()
	s := startSink(t)
	ch := newTestSMTP(t, s)
	require.NoError(t, ch.Send(context.Background(), testMessage("a")))
	s.dropAll()
	require.NoError(t, ch.Send(context.Background(), testMessage("b")), "a dropped idle connection is replaced, not reported")
	require.NoError(t, ch.Send(context.Background(), testMessage("c")))
	sessions, mails := s.counts()
	require.Equal(t, 3, mails)
	require.Equal(t, 2, sessions)
}

func TestSMTPRefusalsAndTransientReplies(t *testing.T) {
	t.Parallel()
	s := startSink(t, func(_ *gosmtp.Server, s *sink) {
		s.rcptReply["nobody@example.test"] = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1},
			Message: "nobody@example.test: no such user"}
		s.rcptReply["full@example.test"] = &gosmtp.SMTPError{Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 2, 2},
			Message: "mailbox full"}
	})
	ch := newTestSMTP(t, s)

	msg := testMessage("k1")
	msg.To = "nobody@example.test"
	err := ch.Send(context.Background(), msg)
	require.ErrorIs(t, err, app.ErrRefused)
	require.NotContains(t, err.Error(), "nobody", "the error holds no address")

	msg.To = "full@example.test"
	err = ch.Send(context.Background(), msg)
	require.Error(t, err)
	require.NotErrorIs(t, err, app.ErrRefused)
	require.NotErrorIs(t, err, app.ErrOutcomeUnknown)

	msg.To = "not an address"
	require.ErrorIs(t, ch.Send(context.Background(), msg), app.ErrRefused)

	require.NoError(t, ch.Send(context.Background(), testMessage("k2")))
	sessions, mails := s.counts()
	require.Equal(t, 1, mails)
	require.Equal(t, 1, sessions, "a refused recipient does not cost the connection")
}

func TestSMTPCancelWhileAwaitingTheReplyIsUnknown(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	s := startSink(t, func(_ *gosmtp.Server, s *sink) { s.holdData, s.dataHeld = hold, make(chan struct{}) })
	t.Cleanup(func() { close(hold) })
	ch := newTestSMTP(t, s, func(c *SMTPConfig) { c.Timeout = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Send(ctx, testMessage("k")) }()
	<-s.dataHeld
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return when its context was cancelled")
	}
	require.ErrorIs(t, err, app.ErrOutcomeUnknown)
	require.ErrorIs(t, err, context.Canceled)
}

func TestSMTPCancelledBeforeSendingIsNotUnknown(t *testing.T) {
	t.Parallel()
	s := startSink(t)
	ch := newTestSMTP(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ch.Send(ctx, testMessage("k"))
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, app.ErrOutcomeUnknown)
	_, mails := s.counts()
	require.Zero(t, mails)
}

func TestSMTPStartTLSAndAuthPlain(t *testing.T) {
	t.Parallel()
	cert, roots := selfSigned(t)
	s := startSink(t, withTLS(cert), func(_ *gosmtp.Server, s *sink) { s.user, s.pass = "followup", "s3cret" })
	ch := newTestSMTP(t, s, func(c *SMTPConfig) {
		c.Username, c.Password = "followup", "s3cret"
		c.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	})
	require.NoError(t, ch.Send(context.Background(), testMessage("k")))
	got := s.received()
	require.Len(t, got, 1)
	require.True(t, got[0].tls, "STARTTLS was offered, so the message went encrypted")
	require.Equal(t, "followup", got[0].authed)

	plain := newTestSMTP(t, s, func(c *SMTPConfig) { c.SkipStartTLS = true })
	err := plain.Send(context.Background(), testMessage("k2"))
	require.Error(t, err, "no credentials: the server wants AUTH")
	require.NotErrorIs(t, err, app.ErrRefused, "a 5xx to MAIL is our setup, not the message")

	wrong := newTestSMTP(t, s, func(c *SMTPConfig) {
		c.Username, c.Password = "followup", "wrong"
		c.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	})
	require.Error(t, wrong.Send(context.Background(), testMessage("k3")))
}

func TestSMTPSkipStartTLSForALocalSink(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	s := startSink(t, withTLS(cert))
	// Without the skip the client would refuse the unknown certificate.
	require.Error(t, newTestSMTP(t, s).Send(context.Background(), testMessage("k")))
	ch := newTestSMTP(t, s, func(c *SMTPConfig) { c.SkipStartTLS = true })
	require.NoError(t, ch.Send(context.Background(), testMessage("k")))
	got := s.received()
	require.Len(t, got, 1)
	require.False(t, got[0].tls)
}

func TestMessageIDIsValidAndInjective(t *testing.T) {
	t.Parallel()
	keys := []string{"a", "a.b", "a=2Eb", "a b", "a:b", "中文", "", "a@b", "<x>"}
	seen := map[string]string{}
	for _, k := range keys {
		id := MessageID(k, "clinicops.followup")
		require.Regexp(t, `^<[A-Za-z0-9_=-]*@clinicops\.followup>$`, id)
		require.NotContains(t, seen, id, "%q and %q", k, seen[id])
		seen[id] = k
	}
}

// selfSigned makes a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestSMTPDoesNotReuseAConnectionIdleTooLong(t *testing.T) {
	t.Parallel()
	s := startSink(t)
	ch := newTestSMTP(t, s, func(c *SMTPConfig) { c.IdleTimeout = time.Nanosecond })
	require.NoError(t, ch.Send(context.Background(), testMessage("a")))
	require.NoError(t, ch.Send(context.Background(), testMessage("b")))
	sessions, _ := s.counts()
	require.Equal(t, 2, sessions)
}

func TestSMTPClose(t *testing.T) {
	t.Parallel()
	s := startSink(t)
	ch := newTestSMTP(t, s)
	require.NoError(t, ch.Send(context.Background(), testMessage("a")))
	require.NoError(t, ch.Close())
	err := ch.Send(context.Background(), testMessage("b"))
	require.Error(t, err)
	require.NotErrorIs(t, err, app.ErrOutcomeUnknown)
}

// BenchmarkSMTPSend measures messages a second through the pool to a
// local go-smtp sink (the reminders_100k figure sends through this path).
func BenchmarkSMTPSend(b *testing.B) {
	s := startSink(b)
	ch, err := NewSMTP(SMTPConfig{Addr: s.addr, From: "noreply@clinic.test", MaxConns: 4})
	require.NoError(b, err)
	defer func() { _ = ch.Close() }()
	msg := testMessage("bench")
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := ch.Send(context.Background(), msg); err != nil {
				b.Error(err)
			}
		}
	})
}
