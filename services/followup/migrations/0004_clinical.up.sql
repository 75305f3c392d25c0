-- After an infusion (issue 9): what follow-up saw infused, the check-ins it
-- schedules, their escalations, adverse events and outcome scores.

-- One row per completed infusion, from scheduling's AppointmentCompleted:
-- who received which product ("who else received this lot?").
CREATE TABLE infusions (
    appointment_id uuid        PRIMARY KEY,
    patient_id     uuid        NOT NULL,
    course_id      uuid,
    cycle          integer     NOT NULL,
    program        text        NOT NULL,
    -- ISBT 128 DIN with its check character, as the event carries it.
    product_id     text        NOT NULL,
    infused_at     timestamptz NOT NULL,
    version        bigint      NOT NULL
);
CREATE INDEX infusions_product ON infusions (product_id);

CREATE TABLE check_ins (
    id                      uuid        PRIMARY KEY,
    appointment_id          uuid        NOT NULL REFERENCES infusions,
    patient_id              uuid        NOT NULL,
    course_id               uuid,
    product_id              text        NOT NULL,
    infused_at              timestamptz NOT NULL,
    day                     integer     NOT NULL CHECK (day > 0),
    due_date                date        NOT NULL,
    due_at                  timestamptz NOT NULL,
    status                  text        NOT NULL CHECK (status IN ('pending', 'recorded', 'overdue')),
    temperature_decicelsius integer     CHECK (temperature_decicelsius BETWEEN 340 AND 430),
    symptoms                text[]      NOT NULL DEFAULT '{}',
    -- Free text: shown to staff, never logged, never in an event.
    note                    text        NOT NULL DEFAULT '',
    recorded_by             text        CHECK (recorded_by IN ('nurse', 'patient')),
    recorded_at             timestamptz,
    escalated               boolean     NOT NULL DEFAULT false,
    version                 bigint      NOT NULL,
    UNIQUE (appointment_id, day)
);
CREATE INDEX check_ins_patient ON check_ins (patient_id, due_date);

CREATE TABLE escalations (
    id              uuid        PRIMARY KEY,
    check_in_id     uuid        NOT NULL UNIQUE REFERENCES check_ins,
    patient_id      uuid        NOT NULL,
    course_id       uuid,
    product_id      text        NOT NULL,
    reasons         text[]      NOT NULL,
    suggested_scale text        NOT NULL CHECK (suggested_scale IN ('ASTCT', 'CTCAE')),
    suggested_grade integer     NOT NULL,
    status          text        NOT NULL CHECK (status IN ('open', 'closed')),
    raised_at       timestamptz NOT NULL,
    version         bigint      NOT NULL
);
CREATE INDEX escalations_open ON escalations (raised_at) WHERE status = 'open';

CREATE TABLE adverse_events (
    id             uuid        PRIMARY KEY,
    patient_id     uuid        NOT NULL,
    course_id      uuid        NOT NULL,
    term           text        NOT NULL,
    scale          text        NOT NULL CHECK (scale IN ('CTCAE', 'ASTCT')),
    grade          integer     NOT NULL CHECK (grade BETWEEN 1 AND 5 AND (scale = 'CTCAE' OR grade <= 4)),
    onset_at       timestamptz NOT NULL,
    serious        boolean     NOT NULL,
    outcome        text        NOT NULL DEFAULT '',
    product_id     text        NOT NULL DEFAULT '',
    appointment_id uuid,
    recorded_at    timestamptz NOT NULL,
    version        bigint      NOT NULL
);
CREATE INDEX adverse_events_patient ON adverse_events (patient_id, onset_at);

-- A fatal adverse event closes the patient's pending reminders. Reminder
-- storage belongs to the reminder engine: this is the request, written in
-- the adverse event's transaction, that it honours (app.PendingReminders).
CREATE TABLE reminder_drops (
    patient_id   uuid        NOT NULL,
    -- "adverse_event_fatal:<adverse event id>"
    reason       text        NOT NULL,
    requested_at timestamptz NOT NULL,
    PRIMARY KEY (patient_id, reason)
);

CREATE TABLE outcomes (
    id          uuid        PRIMARY KEY,
    patient_id  uuid        NOT NULL,
    course_id   uuid        NOT NULL,
    cycle       integer     NOT NULL CHECK (cycle > 0),
    measure     text        NOT NULL CHECK (measure IN ('DAS28', 'EDSS', 'CDAI', 'HbA1c')),
    value_milli bigint      NOT NULL,
    band        text        NOT NULL,
    measured_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    version     bigint      NOT NULL
);
CREATE INDEX outcomes_patient ON outcomes (patient_id, measured_at);
