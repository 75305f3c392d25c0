package channels

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook request's signature:
//
//	Clinicops-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// as Stripe signs its webhooks. Signing the timestamp with the body lets a
// receiver refuse a request replayed later; several v1 entries may appear
// while a secret is being rotated.
const SignatureHeader = "Clinicops-Signature"

// Errors of VerifySignature.
var (
	ErrSignatureMalformed = errors.New("webhook signature header malformed")
	ErrSignatureMismatch  = errors.New("webhook signature does not match")
	ErrSignatureStale     = errors.New("webhook signature timestamp outside the tolerance")
)

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a SignatureHeader value against body, for a
// receiver: some v1 signature must be the HMAC of "<t>.<body>" under
// secret (compared in constant time), and t must lie within tolerance of
// now either way (a tolerance of zero or less means
// DefaultSignatureTolerance). Read the body raw: a re-encoded JSON body
// does not verify.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp", ErrSignatureMalformed)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	// Checked after the MAC, so that a forged timestamp is a mismatch, not stale.
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off", ErrSignatureStale, d.Round(time.Second))
	}
	return nil
}

func parseSignature(header string) (ts string, sigs []string, err error) {
	for _, part := range strings.Split(header, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", nil, fmt.Errorf("%w: %q is no key=value", ErrSignatureMalformed, k)
		}
		switch k {
		case "t":
			if ts != "" {
				return "", nil, fmt.Errorf("%w: two timestamps", ErrSignatureMalformed)
			}
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
		// Other schemes (v0, future ones) are ignored, as Stripe's are.
	}
	if ts == "" || len(sigs) == 0 {
		return "", nil, fmt.Errorf("%w: want t= and v1=", ErrSignatureMalformed)
	}
	return ts, sigs, nil
}
