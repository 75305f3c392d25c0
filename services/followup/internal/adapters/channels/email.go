package channels

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// MessageID is the Message-ID every attempt of the message keyed key
// carries, angle brackets included. The key is escaped (bytes outside
// [A-Za-z0-9_-] as =XX) so that any key gives a valid id and two keys
// never give the same one.
func MessageID(key, domain string) string {
	var b strings.Builder
	b.WriteByte('<')
	for i := 0; i < len(key); i++ {
		ch := key[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '_', ch == '-':
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "=%02X", ch)
		}
	}
	b.WriteByte('@')
	b.WriteString(domain)
	b.WriteByte('>')
	return b.String()
}

// languageTag is what Content-Language accepts (RFC 3282, BCP 47).
var languageTag = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)

// composeEmail renders msg as an RFC 5322 message in UTF-8: the subject
// as RFC 2047 encoded words, the body quoted-printable, so that it passes
// any server in 7-bit ASCII and Chinese text arrives intact.
func composeEmail(msg app.Message, from, idDomain string, now time.Time) (rcpt string, data []byte, err error) {
	if msg.IdempotencyKey == "" {
		return "", nil, fmt.Errorf("email: no idempotency key, so no stable Message-ID: %w", app.ErrRefused)
	}
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		// Not the address itself: it is personal data.
		return "", nil, fmt.Errorf("email: the recipient address does not parse: %w", app.ErrRefused)
	}
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", from)
	header("To", to.String())
	header("Subject", encodeSubject(msg.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", MessageID(msg.IdempotencyKey, idDomain))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	if languageTag.MatchString(msg.Language) {
		header("Content-Language", msg.Language)
	}
	// RFC 3834: machines should not answer it (no vacation replies).
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(msg.Body)); err != nil {
		return "", nil, fmt.Errorf("email: encode the body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return "", nil, fmt.Errorf("email: encode the body: %w", err)
	}
	// The DATA writer ends the last line before the terminating dot.
	return to.Address, b.Bytes(), nil
}

// encodeSubject keeps a short printable ASCII subject as it is and
// encodes any other as base64 encoded words (RFC 2047), one per folded
// line: each holds at most 39 bytes of UTF-8, whole characters only, so
// that even the first line, after "Subject: ", stays within 76 characters.
func encodeSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ") // no CR or LF can reach the header
	plain := len(s) <= 60 && !strings.Contains(s, "=?")
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if plain {
		return s
	}
	const maxChunk = 39
	var words []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > maxChunk {
				break
			}
			n += size
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, "\r\n ")
}
