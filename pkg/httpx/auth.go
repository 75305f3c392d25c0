package httpx

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Role is what a bearer token may do. Each token carries exactly one role.
type Role string

// The clinic's roles.
const (
	RoleFrontDesk Role = "front_desk"
	RoleNurse     Role = "nurse"
	RoleLab       Role = "lab"
	RoleClinician Role = "clinician"
	RoleBilling   Role = "billing"
	RoleAdmin     Role = "admin"
)

// Roles lists every role, in a stable order.
func Roles() []Role {
	return []Role{RoleFrontDesk, RoleNurse, RoleLab, RoleClinician, RoleBilling, RoleAdmin}
}

// ErrUnknownRole is returned by ParseRole for anything but a known role.
var ErrUnknownRole = errors.New("unknown role")

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("parse role %q: %w", s, ErrUnknownRole)
}

// String returns the role's name.
func (r Role) String() string { return string(r) }

// Principal is the authenticated caller. TokenID (the first 8 hex digits of
// the token's hash) tells tokens apart without revealing them.
type Principal struct {
	Role    Role
	TokenID string
}

type principalKey struct{}

// PrincipalFrom returns the caller authenticated by the Router.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

func withPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// TokenStore knows the SHA-256 hashes of the valid bearer tokens and their
// roles; it never holds a token itself. Lookup is by hash, so comparison time
// says nothing about a stored token.
type TokenStore struct {
	byHash map[[sha256.Size]byte]Role
}

// HashToken returns the hex SHA-256 of token: the form in which tokens are
// configured and stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// GenerateToken returns a new random bearer token: "cop_" followed by 32
// random bytes in unpadded base64url.
func GenerateToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes instead)
	return "cop_" + base64.RawURLEncoding.EncodeToString(b)
}

// ParseTokenConfig builds a store from production configuration: a
// comma-separated list of role:sha256hex entries (spaces around entries are
// ignored). Errors name the entry by position, never by content.
func ParseTokenConfig(s string) (*TokenStore, error) {
	ts := &TokenStore{byHash: map[[sha256.Size]byte]Role{}}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		roleName, hexHash, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("token config entry %d: want role:sha256hex", i+1)
		}
		role, err := ParseRole(strings.TrimSpace(roleName))
		if err != nil {
			return nil, fmt.Errorf("token config entry %d: %w", i+1, err)
		}
		var h [sha256.Size]byte
		raw, err := hex.DecodeString(strings.TrimSpace(hexHash))
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("token config entry %d: hash must be %d hex digits", i+1, 2*sha256.Size)
		}
		copy(h[:], raw)
		if err := ts.add(h, role); err != nil {
			return nil, fmt.Errorf("token config entry %d: %w", i+1, err)
		}
	}
	if len(ts.byHash) == 0 {
		return nil, errors.New("token config: no tokens")
	}
	return ts, nil
}

// NewTokenStore builds a store from plaintext tokens, for development and
// tests. The tokens are hashed at once; the store keeps no plaintext.
func NewTokenStore(tokens map[Role][]string) (*TokenStore, error) {
	ts := &TokenStore{byHash: map[[sha256.Size]byte]Role{}}
	for role, list := range tokens {
		if _, err := ParseRole(string(role)); err != nil {
			return nil, fmt.Errorf("new token store: %w", err)
		}
		for _, tok := range list {
			if !validToken(tok) {
				return nil, fmt.Errorf("new token store: a %s token is empty or not a bearer token", role)
			}
			if err := ts.add(sha256.Sum256([]byte(tok)), role); err != nil {
				return nil, fmt.Errorf("new token store: %w", err)
			}
		}
	}
	return ts, nil
}

func (ts *TokenStore) add(h [sha256.Size]byte, role Role) error {
	if prev, ok := ts.byHash[h]; ok && prev != role {
		return fmt.Errorf("token %s configured for both %s and %s", hex.EncodeToString(h[:4]), prev, role)
	}
	ts.byHash[h] = role
	return nil
}

// String keeps hashes out of printed configuration.
func (ts *TokenStore) String() string {
	if ts == nil {
		return "TokenStore(nil)"
	}
	return fmt.Sprintf("TokenStore(%d tokens)", len(ts.byHash))
}

// LogValue keeps hashes out of logged configuration.
func (ts *TokenStore) LogValue() slog.Value { return slog.StringValue(ts.String()) }

// Authenticate checks the request's "Authorization: Bearer <token>" header.
// Failures are 401 problems that never echo the header.
func (ts *TokenStore) Authenticate(r *http.Request) (Principal, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return Principal{}, Unauthorized("a bearer token is required")
	case 1:
	default:
		return Principal{}, Unauthorized("malformed Authorization header")
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, Unauthorized("the Authorization header must use the Bearer scheme")
	}
	if !validToken(tok) {
		return Principal{}, Unauthorized("malformed Authorization header")
	}
	if ts == nil {
		return Principal{}, Unauthorized("invalid bearer token")
	}
	h := sha256.Sum256([]byte(tok))
	role, ok := ts.byHash[h]
	if !ok {
		return Principal{}, Unauthorized("invalid bearer token")
	}
	return Principal{Role: role, TokenID: hex.EncodeToString(h[:4])}, nil
}

// maxTokenLen bounds what we hash; real tokens are 47 bytes.
const maxTokenLen = 512

// validToken checks RFC 6750's b64token syntax: 1*( ALPHA / DIGIT /
// "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validToken(tok string) bool {
	if tok == "" || len(tok) > maxTokenLen {
		return false
	}
	body := strings.TrimRight(tok, "=")
	if body == "" {
		return false
	}
	for i := range len(body) {
		c := body[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
