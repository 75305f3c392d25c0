package httpx_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, role := range httpx.Roles() {
		got, err := httpx.ParseRole(string(role))
		require.NoError(t, err)
		require.Equal(t, role, got)
	}
	for _, bad := range []string{"", "Admin", "doctor", " nurse"} {
		_, err := httpx.ParseRole(bad)
		require.ErrorIs(t, err, httpx.ErrUnknownRole, bad)
	}
}

func TestHashToken(t *testing.T) {
	t.Parallel()
	// SHA-256("abc") from FIPS 180-2.
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", httpx.HashToken("abc"))
}

func TestGenerateToken(t *testing.T) {
	t.Parallel()
	a, b := httpx.GenerateToken(), httpx.GenerateToken()
	require.NotEqual(t, a, b)
	rest, ok := strings.CutPrefix(a, "cop_")
	require.True(t, ok)
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	require.NoError(t, err)
	require.Len(t, raw, 32)

	// A generated token works as a bearer token.
	ts, err := httpx.ParseTokenConfig("nurse:" + httpx.HashToken(a))
	require.NoError(t, err)
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+a)
	p, err := ts.Authenticate(r)
	require.NoError(t, err)
	require.Equal(t, httpx.RoleNurse, p.Role)
	require.Equal(t, httpx.HashToken(a)[:8], p.TokenID)
}

func TestParseTokenConfig(t *testing.T) {
	t.Parallel()
	h1, h2 := httpx.HashToken("one"), httpx.HashToken("two")
	tests := []struct {
		name    string
		config  string
		wantErr bool
	}{
		{"single", "admin:" + h1, false},
		{"several with spaces", " admin:" + h1 + " , nurse:" + h2 + " ,", false},
		{"uppercase hex", "admin:" + strings.ToUpper(h1), false},
		{"same token twice same role", "admin:" + h1 + ",admin:" + h1, false},
		{"empty", "", true},
		{"only commas", ",,", true},
		{"no colon", "admin" + h1, true},
		{"unknown role", "doctor:" + h1, true},
		{"short hash", "admin:" + h1[:60], true},
		{"not hex", "admin:" + strings.Repeat("z", 64), true},
		{"plaintext token instead of hash", "admin:cop_secret", true},
		{"same token two roles", "admin:" + h1 + ",nurse:" + h1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, err := httpx.ParseTokenConfig(tt.config)
			if tt.wantErr {
				require.Error(t, err)
				require.NotContains(t, err.Error(), "cop_secret", "errors never echo config values")
				return
			}
			require.NoError(t, err)
			require.NotContains(t, ts.String(), h1)
		})
	}
}

func TestNewTokenStore(t *testing.T) {
	t.Parallel()
	_, err := httpx.NewTokenStore(map[httpx.Role][]string{"doctor": {"t"}})
	require.ErrorIs(t, err, httpx.ErrUnknownRole)
	_, err = httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleNurse: {""}})
	require.Error(t, err)
	_, err = httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleNurse: {"has space"}})
	require.Error(t, err)
	_, err = httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleNurse: {"same"}, httpx.RoleAdmin: {"same"}})
	require.Error(t, err)

	ts, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleLab: {"cop_plain"}})
	require.NoError(t, err)
	require.NotContains(t, fmt.Sprintf("%v %+v", ts, ts), "cop_plain")
}

func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		header     []string // Authorization values
		wantStatus int
		wantRole   httpx.Role
	}{
		{"no header", nil, 401, ""},
		{"empty header", []string{""}, 401, ""},
		{"basic scheme", []string{"Basic YWRtaW46YWRtaW4="}, 401, ""},
		{"bearer without token", []string{"Bearer"}, 401, ""},
		{"bearer empty token", []string{"Bearer "}, 401, ""},
		{"double space", []string{"Bearer  " + testTokens[httpx.RoleNurse]}, 401, ""},
		{"token with space", []string{"Bearer abc def"}, 401, ""},
		{"two headers", []string{"Bearer " + testTokens[httpx.RoleNurse], "Bearer " + testTokens[httpx.RoleNurse]}, 401, ""},
		{"unknown token", []string{"Bearer cop_unknown"}, 401, ""},
		{"wrong role", []string{"Bearer " + testTokens[httpx.RoleBilling]}, 403, httpx.RoleBilling},
		{"right role", []string{"Bearer " + testTokens[httpx.RoleNurse]}, 200, httpx.RoleNurse},
		{"other allowed role", []string{"Bearer " + testTokens[httpx.RoleClinician]}, 200, httpx.RoleClinician},
		{"scheme is case-insensitive", []string{"bearer " + testTokens[httpx.RoleNurse]}, 200, httpx.RoleNurse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.router.Handle("GET /v1/patients/{id}/vitals", func(w http.ResponseWriter, r *http.Request) error {
				p, ok := httpx.PrincipalFrom(r.Context())
				if !ok {
					return errors.New("no principal")
				}
				return httpx.WriteJSON(w, http.StatusOK, map[string]string{"role": string(p.Role), "id": r.PathValue("id")})
			}, httpx.RoleNurse, httpx.RoleClinician)

			rec := do(t, b.router, http.MethodGet, "/v1/patients/p-7/vitals", "", http.Header{"Authorization": tt.header})
			if tt.wantStatus == http.StatusOK {
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				require.JSONEq(t, fmt.Sprintf(`{"role":%q,"id":"p-7"}`, tt.wantRole), rec.Body.String())
			} else {
				requireProblem(t, rec, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusUnauthorized {
				require.Equal(t, "Bearer", rec.Header().Get("WWW-Authenticate"))
			}

			lines := b.logs.lines(t)
			require.Len(t, lines, 1)
			require.Equal(t, string(tt.wantRole), lines[0]["role"])
			for _, tok := range testTokens {
				require.NotContains(t, b.logs.String(), tok, "tokens are never logged")
				require.NotContains(t, rec.Body.String(), tok, "tokens are never echoed")
			}
		})
	}
}
