package channels

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"sync"
	"time"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// EmailName is the e-mail channel's name.
const EmailName = "email"

// SMTPConfig configures the e-mail channel.
type SMTPConfig struct {
	// Addr is the submission server's host:port (FOLLOWUP_SMTP_ADDR).
	Addr string
	// From is the sender, "Name <address>" or an address (FOLLOWUP_SMTP_FROM).
	From string
	// Username and Password turn on AUTH PLAIN (FOLLOWUP_SMTP_USERNAME,
	// FOLLOWUP_SMTP_PASSWORD). net/smtp sends them only over TLS or to a
	// loopback server.
	Username, Password string
	// SkipStartTLS keeps a connection in clear text even when the server
	// offers STARTTLS: for a local sink without a certificate
	// (FOLLOWUP_SMTP_SKIP_STARTTLS).
	SkipStartTLS bool
	// Helo is the name given in EHLO (FOLLOWUP_SMTP_HELO).
	Helo string
	// MaxConns bounds the connections open and in use at once
	// (FOLLOWUP_SMTP_MAX_CONNS).
	MaxConns int
	// Timeout bounds one Send, reconnecting included (FOLLOWUP_SMTP_TIMEOUT).
	Timeout time.Duration
	// IdleTimeout: a connection idle longer is closed rather than reused,
	// since servers drop idle clients (FOLLOWUP_SMTP_IDLE_TIMEOUT).
	IdleTimeout time.Duration
	// MessageIDDomain is the right-hand side of every Message-ID
	// (FOLLOWUP_SMTP_MESSAGE_ID_DOMAIN).
	MessageIDDomain string
	// TLS, if set, is used for STARTTLS (tests give their own roots); nil
	// verifies the server against the system roots.
	TLS *tls.Config
	// Now stamps the Date header; nil is time.Now.
	Now func() time.Time
}

// SMTP sends e-mail through one submission server. It keeps up to
// MaxConns connections open and reuses them for later messages: opening a
// connection costs a TCP handshake, a TLS handshake and AUTH, several times
// the cost of a message. It is safe for concurrent use.
type SMTP struct {
	cfg      SMTPConfig
	host     string
	envelope string // the From address, for MAIL FROM
	from     string // the From header
	// slots holds one token per connection in use: at most MaxConns.
	slots chan struct{}

	mu     sync.Mutex
	idle   []*smtpConn
	closed bool
}

type smtpConn struct {
	raw      net.Conn // below TLS: deadlines set here reach every read and write
	client   *smtp.Client
	lastUsed time.Time
}

// NewSMTP checks cfg and makes the channel; it connects on the first Send.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: %w", cfg.Addr, err)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp from address: %w", err)
	}
	if cfg.MaxConns < 1 {
		cfg.MaxConns = DefaultSMTPMaxConns
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultSMTPIdleTimeout
	}
	if cfg.Helo == "" {
		cfg.Helo = DefaultSMTPHelo
	}
	if cfg.MessageIDDomain == "" {
		cfg.MessageIDDomain = DefaultMessageIDDomain
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SMTP{cfg: cfg, host: host, envelope: from.Address, from: from.String(),
		slots: make(chan struct{}, cfg.MaxConns)}, nil
}

// Name is "email".
func (s *SMTP) Name() string { return EmailName }

// Idempotent is true: every attempt carries the same Message-ID.
func (s *SMTP) Idempotent() bool { return true }

// errStale marks a failure of a reused connection before the message's
// data was sent: the server dropped it while idle, so nothing was
// delivered and a fresh connection may try again at once.
var errStale = errors.New("connection lost before the data")

// Send delivers msg to msg.To. See the package documentation for its errors.
func (s *SMTP) Send(ctx context.Context, msg app.Message) error {
	rcpt, data, err := composeEmail(msg, s.from, s.cfg.MessageIDDomain, s.cfg.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("email: wait for a connection: %w", ctx.Err())
	}
	defer func() { <-s.slots }()

	c, reused, err := s.take(ctx)
	if err != nil {
		return err
	}
	keep, err := s.transact(ctx, c, rcpt, data)
	if err != nil && reused && errors.Is(err, errStale) {
		_ = c.client.Close()
		if c, err = s.dial(ctx); err != nil {
			return err
		}
		keep, err = s.transact(ctx, c, rcpt, data)
	}
	if keep {
		s.put(c)
	} else {
		_ = c.client.Close()
	}
	return err
}

// take returns an idle connection young enough to trust, or a new one.
func (s *SMTP) take(ctx context.Context) (*smtpConn, bool, error) {
	now := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false, errors.New("email: channel closed")
	}
	var c *smtpConn
	var old []*smtpConn
	for len(s.idle) > 0 && c == nil {
		last := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if now.Sub(last.lastUsed) > s.cfg.IdleTimeout {
			old = append(old, last)
			continue
		}
		c = last
	}
	s.mu.Unlock()
	for _, o := range old {
		_ = o.client.Close()
	}
	if c != nil {
		return c, true, nil
	}
	c, err := s.dial(ctx)
	return c, false, err
}

func (s *SMTP) put(c *smtpConn) {
	c.lastUsed = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.client.Close()
		return
	}
	s.idle = append(s.idle, c)
}

// dial connects, greets, upgrades to TLS when offered and authenticates.
func (s *SMTP) dial(ctx context.Context) (*smtpConn, error) {
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("email: connect: %w", err)
	}
	stop := deadlineFromContext(ctx, raw)
	defer stop()
	client, err := s.handshake(raw)
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("email: %w", ctxErr(ctx, err))
	}
	return &smtpConn{raw: raw, client: client}, nil
}

func (s *SMTP) handshake(raw net.Conn) (*smtp.Client, error) {
	client, err := smtp.NewClient(raw, s.host)
	if err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := client.Hello(s.cfg.Helo); err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := client.Extension("STARTTLS"); ok && !s.cfg.SkipStartTLS {
		tc := &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
		if s.cfg.TLS != nil {
			tc = s.cfg.TLS.Clone()
			if tc.ServerName == "" {
				tc.ServerName = s.host
			}
		}
		if err := client.StartTLS(tc); err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.cfg.Username != "" {
		// PlainAuth refuses to send the password in clear text to another machine.
		if err := client.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return client, nil
}

// transact runs one mail transaction on c. keep says whether c can carry
// another one.
func (s *SMTP) transact(ctx context.Context, c *smtpConn, rcpt string, data []byte) (keep bool, err error) {
	stop := deadlineFromContext(ctx, c.raw)
	defer stop()
	if err := c.client.Mail(s.envelope); err != nil {
		return s.failed(ctx, c, "MAIL", err, false)
	}
	if err := c.client.Rcpt(rcpt); err != nil {
		return s.failed(ctx, c, "RCPT", err, true)
	}
	w, err := c.client.Data()
	if err != nil {
		return s.failed(ctx, c, "DATA", err, true)
	}
	if _, err := w.Write(data); err != nil {
		// The terminating dot was not sent: the server cannot have taken it.
		return false, fmt.Errorf("email: write the data: %w", ctxErr(ctx, err))
	}
	// Close sends the terminating dot and reads the reply: from here on a
	// lost connection leaves the outcome unknown.
	if err := w.Close(); err != nil {
		var reply *textproto.Error
		if errors.As(err, &reply) {
			return s.failed(ctx, c, "end of data", err, true)
		}
		return false, fmt.Errorf("email: end of data: %w: %w", app.ErrOutcomeUnknown, ctxErr(ctx, err))
	}
	return true, nil
}

// failed classifies a failure before the end of the data. refusable says
// whether a 5xx at this step is about the message (RCPT, DATA) rather than
// about our sender or setup (MAIL), which a fix may cure.
func (s *SMTP) failed(ctx context.Context, c *smtpConn, step string, err error, refusable bool) (bool, error) {
	var reply *textproto.Error
	switch {
	case ctx.Err() != nil:
		return false, fmt.Errorf("email: %s: %w", step, ctxErr(ctx, err))
	case !errors.As(err, &reply):
		return false, fmt.Errorf("email: %s: %w: %w", step, errStale, err)
	case reply.Code == 421:
		// 421: the server is closing this connection; another may do.
		return false, fmt.Errorf("email: %s: server replied 421: %w", step, errStale)
	}
	// The server's text is left out of every error: it often echoes the address.
	keep := c.client.Reset() == nil
	if reply.Code >= 500 && refusable {
		return keep, fmt.Errorf("email: %s: server replied %d: %w", step, reply.Code, app.ErrRefused)
	}
	return keep, fmt.Errorf("email: %s: server replied %d", step, reply.Code)
}

// Close says QUIT on the idle connections; sends after it fail.
func (s *SMTP) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	var errs []error
	for _, c := range idle {
		_ = c.raw.SetDeadline(time.Now().Add(time.Second))
		if err := c.client.Quit(); err != nil {
			errs = append(errs, c.client.Close())
		}
	}
	return errors.Join(errs...)
}

// deadlineFromContext bounds every read and write on conn by ctx's
// deadline, and cuts them short when ctx is cancelled. stop undoes the
// watch (not the deadline: the next user sets its own).
func deadlineFromContext(ctx context.Context, conn net.Conn) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	} else {
		_ = conn.SetDeadline(time.Time{})
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// ctxErr names ctx's error when it caused err (an i/o timeout on a
// deadline we set for it), so callers can tell cancellation apart.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}
