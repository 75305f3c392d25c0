package checkin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"
)

// A link lets the patient answer one check-in without an account: the
// token in it names the check-in and when the link stops working, and is
// signed with the clinic's secret (HMAC-SHA256), so it can be neither
// forged nor pointed at another check-in. It carries nothing about the
// patient. Holding the token is the authorisation, for that one check-in
// only, and a check-in is answered once.

// Errors of a link's token.
var (
	// ErrLinkInvalid: not a token this clinic signed (or mangled).
	ErrLinkInvalid = errors.New("the link is not valid")
	// ErrLinkExpired: a token this clinic signed, past its end.
	ErrLinkExpired = errors.New("the link has expired")
)

// MinLinkSecret is the shortest secret a Links accepts, in bytes.
const MinLinkSecret = 32

// tokenLen: the check-in id (16 bytes), the expiry in Unix seconds (8) and
// the first 16 bytes of the MAC.
const tokenLen = 16 + 8 + 16

// Links signs and verifies the tokens of check-in links.
type Links struct {
	secret []byte
}

// NewLinks returns the signer for secret (at least MinLinkSecret bytes).
func NewLinks(secret []byte) (Links, error) {
	if len(secret) < MinLinkSecret {
		return Links{}, errors.New("a link secret needs at least 32 bytes")
	}
	return Links{secret: append([]byte(nil), secret...)}, nil
}

// Token is the token of check-in id's link, valid until expires.
func (l Links) Token(id uuid.UUID, expires time.Time) string {
	b := make([]byte, 0, tokenLen)
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(expires.Unix()))
	b = append(b, l.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Verify returns the check-in a token names, if this clinic signed it and
// it has not expired at now.
func (l Links) Verify(token string, now time.Time) (uuid.UUID, error) {
	id, _, err := l.VerifyUntil(token, now)
	return id, err
}

// VerifyUntil is Verify, with the link's expiry.
func (l Links) VerifyUntil(token string, now time.Time) (uuid.UUID, time.Time, error) {
	// The length first: the decoder skips newlines, which would give one
	// link many spellings (found by FuzzLinkVerify).
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenLen) {
		return uuid.Nil, time.Time{}, ErrLinkInvalid
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != tokenLen || len(l.secret) == 0 {
		return uuid.Nil, time.Time{}, ErrLinkInvalid
	}
	body, sum := b[:16+8], b[16+8:]
	if !hmac.Equal(sum, l.mac(body)) {
		return uuid.Nil, time.Time{}, ErrLinkInvalid
	}
	id, err := uuid.FromBytes(body[:16])
	if err != nil {
		return uuid.Nil, time.Time{}, ErrLinkInvalid
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(body[16:])), 0) //nolint:gosec // signed by us: a Unix time we wrote
	if !now.Before(expires) {
		return uuid.Nil, time.Time{}, ErrLinkExpired
	}
	return id, expires, nil
}

func (l Links) mac(body []byte) []byte {
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte("clinicops check-in link v1\x00"))
	m.Write(body)
	return m.Sum(nil)[:16]
}
