package httpx_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/validation"
)

func requireStatus(t *testing.T, err error, status int, field string) httpx.Problem {
	t.Helper()
	var p *httpx.Problem
	require.True(t, errors.As(err, &p), "want a problem, got %v", err)
	require.Equal(t, status, p.Status, p.Detail)
	if field != "" {
		require.Len(t, p.Errors, 1)
		require.Equal(t, field, p.Errors[0].Field)
	}
	return *p
}

func TestPathUUID(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.SetPathValue("id", id.String())
	got, err := httpx.PathUUID(r, "id")
	require.NoError(t, err)
	require.Equal(t, id, got)
	r.SetPathValue("id", "not-a-uuid")
	_, err = httpx.PathUUID(r, "id")
	requireStatus(t, err, http.StatusBadRequest, "id")
}

func TestIfMatchVersion(t *testing.T) {
	t.Parallel()
	require.Equal(t, `"42"`, httpx.ETag(42))
	for _, tc := range []struct {
		header  []string
		version int64
		status  int
	}{
		{[]string{`"3"`}, 3, 0},
		{[]string{`W/"3"`}, 3, 0},
		{[]string{` "7" `}, 7, 0},
		{nil, 0, http.StatusPreconditionRequired},
		{[]string{""}, 0, http.StatusPreconditionRequired},
		{[]string{"3"}, 0, http.StatusPreconditionFailed},
		{[]string{`"0"`}, 0, http.StatusPreconditionFailed},
		{[]string{`"-1"`}, 0, http.StatusPreconditionFailed},
		{[]string{`"x"`}, 0, http.StatusPreconditionFailed},
		{[]string{`*`}, 0, http.StatusPreconditionFailed},
		{[]string{`"1", "2"`}, 0, http.StatusPreconditionFailed},
		{[]string{`"1"`, `"2"`}, 0, http.StatusPreconditionFailed},
	} {
		t.Run(fmt.Sprint(tc.header), func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPatch, "/x", nil)
			for _, h := range tc.header {
				r.Header.Add("If-Match", h)
			}
			v, err := httpx.IfMatchVersion(r)
			if tc.status == 0 {
				require.NoError(t, err)
				require.Equal(t, tc.version, v)
				return
			}
			requireStatus(t, err, tc.status, "")
		})
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	p := httpx.Pagination{Default: 20, Max: 100}
	req, fields := p.Parse(url.Values{"cursor": {"abc"}})
	require.Empty(t, fields)
	require.Equal(t, httpx.PageRequest{Limit: 20, Cursor: "abc"}, req)
	req, fields = p.Parse(url.Values{"limit": {"100"}})
	require.Empty(t, fields)
	require.Equal(t, 100, req.Limit)
	for _, bad := range []string{"0", "101", "ten", "-1", "1e2"} {
		_, fields = p.Parse(url.Values{"limit": {bad}})
		require.Equal(t, []httpx.FieldError{{Field: "limit", Message: "must be an integer from 1 to 100"}}, fields, bad)
	}

	require.Equal(t, httpx.Page[int]{Items: []int{}}, httpx.NewPage[int](nil, ""))
	pg := httpx.NewPage([]int{1}, "next")
	require.Equal(t, "next", *pg.NextCursor)

	type key struct {
		At string `json:"at"`
		ID int64  `json:"id"`
	}
	c, err := httpx.EncodeCursor(key{"2026-01-01", 7})
	require.NoError(t, err)
	var back key
	require.NoError(t, httpx.DecodeCursor(c, &back))
	require.Equal(t, key{"2026-01-01", 7}, back)
	for _, forged := range []string{"abc", "!!", "bnVsbA", string(make([]byte, 2000))} {
		requireStatus(t, httpx.DecodeCursor(forged, &struct{ X []int }{}), http.StatusBadRequest, "cursor")
	}

	requireStatus(t, httpx.CheckQueryNames(url.Values{"q": {"x"}, "nmae": {"y"}}, "q", "limit"), http.StatusBadRequest, "nmae")
	require.NoError(t, httpx.CheckQueryNames(url.Values{"q": {"x"}}, "q", "limit"))
}

var errGone = errors.New("gone")

type dupError struct{ ExistingID string }

func (e *dupError) Error() string { return "duplicate of " + e.ExistingID }

func TestErrorMap(t *testing.T) {
	t.Parallel()
	m := httpx.NewErrorMap().Is(errGone, httpx.NotFound("no such thing"))
	httpx.As(m, func(e *dupError) *httpx.Problem {
		return httpx.Conflict("already there").WithExtension("existing_id", e.ExistingID)
	})

	require.NoError(t, m.Map(nil))
	requireStatus(t, m.Map(fmt.Errorf("load: %w", errGone)), http.StatusNotFound, "")
	p := requireStatus(t, m.Map(fmt.Errorf("save: %w", &dupError{"a1"})), http.StatusConflict, "")
	require.Equal(t, "a1", p.Extensions["existing_id"])
	requireStatus(t, m.Map(fmt.Errorf("check: %w", validation.Field("name", "is required"))), http.StatusUnprocessableEntity, "name")
	requireStatus(t, m.Map(httpx.Forbidden("no")), http.StatusForbidden, "")

	// A problem handed out is a copy: changing it leaves the map's alone.
	first := m.Problem(errGone)
	first.Extensions = map[string]any{"x": 1}
	require.Nil(t, m.Problem(errGone).Extensions)

	bug := errors.New("connection refused")
	require.Same(t, bug, m.Map(bug), "unmapped errors pass through to become a 500")
}
