package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// Router is the http.Handler of a service: a ServeMux whose routes each
// declare the roles allowed to call them, wrapped in the RequestID, AccessLog
// and Recover middleware. Unmatched paths and wrong methods get 404 and 405
// problems instead of ServeMux's plain-text replies.
type Router struct {
	mux     *http.ServeMux
	routes  []string
	tokens  *TokenStore
	log     *slog.Logger
	handler http.Handler
}

// NewRouter returns a router that authenticates with tokens and logs to log
// (slog.Default if nil). tokens may be nil only if every route is Public.
func NewRouter(tokens *TokenStore, log *slog.Logger) *Router {
	if log == nil {
		log = slog.Default()
	}
	rt := &Router{mux: http.NewServeMux(), tokens: tokens, log: log}
	rt.handler = RequestID(AccessLog(log)(Recover(log)(http.HandlerFunc(rt.dispatch))))
	return rt
}

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.handler.ServeHTTP(w, r)
}

// Handle registers h for a ServeMux pattern ("POST /v1/patients/{id}/consents")
// callable only by the given roles. A route without roles is a programming
// error and panics at registration, as do unknown roles and a router without a
// token store: access must be decided when the route is written, not by
// accident.
func (rt *Router) Handle(pattern string, h HandlerFunc, roles ...Role) {
	if len(roles) == 0 {
		panic(fmt.Sprintf("httpx: route %q declares no roles; use Public for unauthenticated routes", pattern))
	}
	if rt.tokens == nil {
		panic(fmt.Sprintf("httpx: route %q needs authentication but the router has no token store", pattern))
	}
	allowed := make(map[Role]bool, len(roles))
	for _, role := range roles {
		if _, err := ParseRole(string(role)); err != nil {
			panic(fmt.Sprintf("httpx: route %q: %v", pattern, err))
		}
		allowed[role] = true
	}
	rt.mux.Handle(pattern, rt.authorize(allowed, h))
	rt.routes = append(rt.routes, pattern)
}

// Public registers h for a pattern anyone may call, without a token: health
// probes and the OpenAPI document, nothing that touches patient data.
func (rt *Router) Public(pattern string, h HandlerFunc) {
	rt.mux.Handle(pattern, rt.withLogger(h))
	rt.routes = append(rt.routes, pattern)
}

// Routes lists the patterns registered so far, sorted: what a contract test
// compares with the routes an OpenAPI document declares.
func (rt *Router) Routes() []string {
	out := slices.Clone(rt.routes)
	slices.Sort(out)
	return out
}

func (rt *Router) withLogger(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(withLogger(r.Context(), rt.log)))
	})
}

func (rt *Router) authorize(allowed map[Role]bool, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		principal, err := rt.tokens.Authenticate(r)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) {
				p = Unauthorized("invalid bearer token")
			}
			WriteProblem(w, r, p)
			return
		}
		if info := infoFrom(r.Context()); info != nil {
			info.role = principal.Role
		}
		if !allowed[principal.Role] {
			WriteProblem(w, r, Forbidden(fmt.Sprintf("role %s may not perform this operation", principal.Role)))
			return
		}
		ctx := withLogger(withPrincipal(r.Context(), principal), rt.log)
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// dispatch routes through the mux, answering 404 and 405 with problems and
// 400 to text that is not UTF-8 or holds NUL.
func (rt *Router) dispatch(w http.ResponseWriter, r *http.Request) {
	if r.RequestURI == "*" { // ServeMux would answer a bare 400
		WriteProblem(w, r, BadRequest("the request target must be a path"))
		return
	}
	h, pattern := rt.mux.Handler(r)
	// Bad bytes in the query, path or headers are refused before any route
	// (or the database behind it) sees them.
	if p := checkRequestText(r, pattern); p != nil {
		if info := infoFrom(r.Context()); info != nil {
			info.route = pattern
		}
		WriteProblem(w, r, p)
		return
	}
	if pattern != "" {
		if info := infoFrom(r.Context()); info != nil {
			info.route = pattern
		}
		rt.mux.ServeHTTP(w, r)
		return
	}
	// No pattern: ServeMux would answer 404 or 405 in text/plain, or redirect
	// to a cleaned path. Run its handler against a recorder to learn which.
	rec := &discardWriter{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		WriteProblem(w, r, NotFound("no such resource"))
	case http.StatusMethodNotAllowed:
		var allowed []string
		if allow := rec.header.Get("Allow"); allow != "" {
			for m := range strings.SplitSeq(allow, ",") {
				allowed = append(allowed, strings.TrimSpace(m))
			}
		}
		WriteProblem(w, r, MethodNotAllowed(allowed...))
	default:
		rt.mux.ServeHTTP(w, r)
	}
}

// discardWriter records what ServeMux's fallback handlers would write.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(b), nil
}
