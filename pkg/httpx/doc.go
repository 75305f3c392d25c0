// Package httpx is the HTTP platform shared by the clinicops services: RFC 9457
// problem responses, handlers that return errors, strict JSON decoding, bearer
// token authentication with per-route roles, request and correlation ids,
// panic recovery, access logging, health endpoints and a server with graceful
// shutdown.
//
// Nothing in this package logs request or response bodies, query strings,
// URL paths or tokens: access logs carry the method, the route pattern, the
// status, the duration, the request and correlation ids and the caller's role.
// Patient data travels through request paths and bodies, so those never reach a
// log line.
//
// A service builds one [Router], declares every route with the roles allowed to
// call it, and hands the router to [Serve]:
//
//	rt := httpx.NewRouter(tokens, log)
//	rt.Health(map[string]httpx.Check{"postgres": db.PingContext})
//	rt.Handle("POST /v1/patients", h.registerPatient, httpx.RoleFrontDesk, httpx.RoleAdmin)
//	return httpx.Serve(ctx, cfg.HTTP, rt, log)
package httpx
