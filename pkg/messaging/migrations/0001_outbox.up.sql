-- Platform tables every service database carries.

-- Transactional outbox: events written in the same transaction as the state
-- change that caused them; the relay publishes them to JetStream and deletes
-- them. id orders them: rows of one aggregate are inserted under that
-- aggregate's row lock, so their ids grow in version order.
CREATE TABLE outbox (
    id         bigserial   PRIMARY KEY,
    event_id   uuid        NOT NULL,
    subject    text        NOT NULL,
    payload    bytea       NOT NULL,
    headers    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Commit-time wake-up: NOTIFY is delivered when (and only if) the inserting
-- transaction commits, so the relay publishes within milliseconds instead of
-- after a poll interval. One notification per statement; Postgres folds
-- identical notifications of one transaction into one.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clinicops_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Idempotent consumers: a handler records (consumer, event id) in the same
-- transaction as its effect; a redelivered event finds its row and changes
-- nothing.
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Idempotency keys of write APIs: the same key and body returns the first
-- answer; kept at least 24 h.
CREATE TABLE idempotency_keys (
    principal    text        NOT NULL,
    key          text        NOT NULL,
    method       text        NOT NULL,
    path         text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       integer     NOT NULL,
    headers      jsonb       NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
