-- Visits, from scheduling's appointment events: what reminders are about.
-- version is the appointment's version in scheduling; an older event never
-- overwrites a newer one.
CREATE TABLE visits (
    appointment_id  uuid        PRIMARY KEY,
    patient_id      uuid        NOT NULL,
    course_id       uuid,
    kind            text        NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    patient_present boolean     NOT NULL,
    status          text        NOT NULL CHECK (status IN ('booked', 'cancelled')),
    version         bigint      NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX visits_course ON visits (course_id) WHERE status = 'booked';

-- Course state, from scheduling's course events: a held or cancelled
-- course's visits get no reminders.
CREATE TABLE course_states (
    course_id  uuid        PRIMARY KEY,
    status     text        NOT NULL CHECK (status IN ('active', 'on_hold', 'cancelled')),
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL
);

-- One reminder per (appointment, occurrence start, kind): the unique key.
-- A moved visit's reminders for the old time are cancelled and new ones
-- inserted; moving back revives the cancelled row (never a sent one).
-- version counts the reminder's changes; job_version is the schedule
-- generation its durable job carries, so a job of an older generation
-- does nothing.
CREATE TABLE reminders (
    reminder_id      uuid        PRIMARY KEY,
    appointment_id   uuid        NOT NULL REFERENCES visits (appointment_id),
    patient_id       uuid        NOT NULL,
    kind             text        NOT NULL,
    occurrence_start timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    status           text        NOT NULL CHECK (status IN ('scheduled', 'sent', 'skipped', 'failed', 'unknown', 'cancelled')),
    reason           text,
    channel          text,
    job_id           bigint,
    job_version      bigint      NOT NULL,
    version          bigint      NOT NULL,
    sent_at          timestamptz,
    updated_at       timestamptz NOT NULL,
    UNIQUE (appointment_id, occurrence_start, kind)
);
CREATE INDEX reminders_patient ON reminders (patient_id, due_at);

-- Every attempt to deliver a reminder. An attempt is committed as
-- 'sending' before the message leaves; what became of it is recorded
-- after the channel answered. One still 'sending' when its reminder is
-- worked again belonged to a process that died mid-send.
CREATE TABLE reminder_attempts (
    reminder_id   uuid        NOT NULL REFERENCES reminders (reminder_id),
    attempt       int         NOT NULL CHECK (attempt >= 1),
    channel       text        NOT NULL,
    route         text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('sending', 'sent', 'refused', 'failed', 'in_doubt', 'unknown')),
    error         text,
    visit_version bigint      NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    PRIMARY KEY (reminder_id, attempt)
);
