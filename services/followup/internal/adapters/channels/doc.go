// Package channels delivers follow-up messages: e-mail over SMTP, SMS
// through an HTTP gateway, a signed webhook, and the log (for `make run`).
// Each implements app.Channel; FromConfig builds the configured ones.
//
// # Which channels may be retried after an outcome in doubt
//
// An attempt is in doubt when the process died, or the connection broke,
// after the message may have left. The reminder engine retries such an
// attempt only on an idempotent channel, with the same idempotency key.
//
//   - email (SMTP): idempotent. Every attempt of one reminder carries the
//     same Message-ID, <key@clinicops.followup>, derived from the
//     idempotency key, so a resent message is the same message: mail
//     stores and clients de-duplicate by Message-ID, and staff can see
//     that two copies are one. Send says ErrOutcomeUnknown only when the
//     connection was lost after the end of the data, before the server's
//     reply: before that point the server cannot have accepted it.
//   - webhook: idempotent. Every attempt sends the same Idempotency-Key
//     header and body id (the idempotency key); receivers are asked to
//     de-duplicate by it, as Stripe's are.
//   - sms: NOT idempotent. SMS gateways (Aliyun SendSms, Twilio) take no
//     idempotency key, and a retry after a timeout is a second text on the
//     patient's phone. The key travels as "reference" for the gateway's
//     records only. An attempt in doubt is marked unknown and shown to
//     staff, never resent.
//   - log: idempotent. It sends nothing outside the process; writing one
//     more log line is harmless.
//
// # Errors
//
// Send wraps app.ErrRefused when the message can never go (a 5xx SMTP reply
// to RCPT or DATA, a 4xx other than 408 and 429 from a gateway, an address
// that does not parse), app.ErrOutcomeUnknown when it may have left, and
// returns any other error for a transient failure worth retrying with
// backoff. Errors carry status codes, never the server's text or body:
// replies often echo the address.
//
// Every Send honours its context: cancelling it ends the attempt at once
// (as ErrOutcomeUnknown if the message had already gone out whole). The
// HTTP channels also have a client timeout; SMTP bounds each Send by
// FOLLOWUP_SMTP_TIMEOUT.
//
// # Settings
//
// Read through a getenv function (see LoadConfig). A channel whose address
// variable is empty is not built; the log channel always is.
//
//	FOLLOWUP_SMTP_ADDR           host:port of the submission server; enables "email"
//	FOLLOWUP_SMTP_FROM           the From address, e.g. "Clinic <noreply@clinic.example>" (required with ADDR)
//	FOLLOWUP_SMTP_USERNAME       AUTH PLAIN user name (optional; needs PASSWORD)
//	FOLLOWUP_SMTP_PASSWORD       AUTH PLAIN password (secret)
//	FOLLOWUP_SMTP_SKIP_STARTTLS  "true" for a local sink: do not upgrade even when STARTTLS is offered
//	FOLLOWUP_SMTP_HELO           the name given in EHLO (default localhost)
//	FOLLOWUP_SMTP_MAX_CONNS      connections kept open and used at once (default 4)
//	FOLLOWUP_SMTP_TIMEOUT        limit of one send, including a reconnect (default 30s)
//	FOLLOWUP_SMTP_IDLE_TIMEOUT   an idle connection older than this is closed, not reused (default 30s)
//	FOLLOWUP_SMTP_MESSAGE_ID_DOMAIN  right-hand side of the Message-ID (default clinicops.followup)
//	FOLLOWUP_SMS_URL             the gateway's endpoint (https, or http on loopback); enables "sms"
//	FOLLOWUP_SMS_TOKEN           bearer token for the gateway (secret, required with URL)
//	FOLLOWUP_SMS_TIMEOUT         limit of one request (default 10s)
//	FOLLOWUP_WEBHOOK_URL         the receiver's endpoint (https, or http on loopback); enables "webhook"
//	FOLLOWUP_WEBHOOK_SECRET      HMAC-SHA256 signing secret (secret, required with URL)
//	FOLLOWUP_WEBHOOK_TIMEOUT     limit of one request (default 10s)
package channels
