package checkin

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestLinkTokens(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte("k"), MinLinkSecret)
	links, err := NewLinks(secret)
	require.NoError(t, err)
	_, err = NewLinks(secret[:MinLinkSecret-1])
	require.Error(t, err, "a short secret is refused")

	id := uuid.New()
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	token := links.Token(id, now.Add(72*time.Hour))
	got, err := links.Verify(token, now)
	require.NoError(t, err)
	require.Equal(t, id, got)

	_, err = links.Verify(token, now.Add(72*time.Hour))
	require.ErrorIs(t, err, ErrLinkExpired, "the link ends at its expiry")

	other, _ := NewLinks(bytes.Repeat([]byte("x"), MinLinkSecret))
	_, err = other.Verify(token, now)
	require.ErrorIs(t, err, ErrLinkInvalid, "another clinic's secret")

	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	for i := range raw { // any byte changed: the check-in, the expiry or the MAC
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		_, err := links.Verify(base64.RawURLEncoding.EncodeToString(bad), now)
		require.ErrorIs(t, err, ErrLinkInvalid, "byte %d changed", i)
	}
	for _, bad := range []string{"", "not base64!", token[:len(token)-2], token + "AA"} {
		_, err := links.Verify(bad, now)
		require.ErrorIs(t, err, ErrLinkInvalid, "%q", bad)
	}
	_, err = Links{}.Verify(token, now)
	require.ErrorIs(t, err, ErrLinkInvalid, "no secret verifies nothing")
}

func FuzzLinkVerify(f *testing.F) {
	links, _ := NewLinks(bytes.Repeat([]byte("k"), MinLinkSecret))
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	f.Add(links.Token(uuid.New(), now.Add(time.Hour)))
	f.Add("")
	// A token that verifies is exactly the one the clinic signs for its
	// check-in and expiry: no second spelling of a link works.
	f.Fuzz(func(t *testing.T, token string) {
		id, err := links.Verify(token, now)
		if err != nil {
			return
		}
		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err)
		expires := time.Unix(int64(binary.BigEndian.Uint64(raw[16:24])), 0) //nolint:gosec // test of our own encoding
		require.Equal(t, links.Token(id, expires), token)
	})
}
