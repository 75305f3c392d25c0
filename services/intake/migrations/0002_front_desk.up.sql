-- Issue 3: the whole front desk.

ALTER TABLE patients
    ADD COLUMN national_id_type  text,
    ADD COLUMN national_id_value text,
    ADD COLUMN address           jsonb,
    ADD COLUMN emergency_contact jsonb,
    -- Search key: family name then given name, lower-cased, no spaces, with
    -- byte-wise collation so one btree serves both prefix LIKE and the
    -- keyset order (name_key, id) of cursor pagination.
    ADD COLUMN name_key text COLLATE "C"
        GENERATED ALWAYS AS (lower(replace(family_name || given_name, ' ', ''))) STORED;

-- Duplicate rule "same national id", enforced by Postgres.
CREATE UNIQUE INDEX patients_national_id_key ON patients (national_id_type, national_id_value)
    WHERE national_id_value IS NOT NULL;
CREATE INDEX patients_name_key ON patients (name_key, id);
CREATE INDEX patients_phone ON patients (phone, id) WHERE phone IS NOT NULL;
CREATE INDEX patients_national_id_value ON patients (national_id_value, id) WHERE national_id_value IS NOT NULL;

-- Programs are the clinic's data (seeded by make run), never code.
CREATE TABLE programs (
    code             text        PRIMARY KEY,
    name             text        NOT NULL,
    protocol_version text        NOT NULL,
    screening        jsonb       NOT NULL,
    active           boolean     NOT NULL DEFAULT true,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consents (
    id             uuid        PRIMARY KEY,
    patient_id     uuid        NOT NULL REFERENCES patients (id),
    kind           text        NOT NULL,
    program        text,
    form_version   text        NOT NULL,
    signed_at      timestamptz NOT NULL,
    signed_by      text        NOT NULL,
    protocol_id    text,
    trial_id       text,
    status         text        NOT NULL,
    withdrawn_at   timestamptz,
    withdraw_reason text,
    version        bigint      NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX consents_patient ON consents (patient_id, created_at);

CREATE TABLE screenings (
    id                uuid        PRIMARY KEY,
    patient_id        uuid        NOT NULL REFERENCES patients (id),
    program           text        NOT NULL REFERENCES programs (code),
    protocol_version  text        NOT NULL,
    screening_version text        NOT NULL,
    indication_system text        NOT NULL,
    indication_code   text        NOT NULL,
    answers           jsonb       NOT NULL,
    eligible          boolean     NOT NULL,
    reasons           jsonb       NOT NULL,
    completed_at      timestamptz NOT NULL
);
CREATE INDEX screenings_patient ON screenings (patient_id, completed_at);

CREATE TABLE courses (
    id                uuid        PRIMARY KEY,
    patient_id        uuid        NOT NULL REFERENCES patients (id),
    program           text        NOT NULL REFERENCES programs (code),
    protocol_version  text        NOT NULL,
    indication_system text        NOT NULL,
    indication_code   text        NOT NULL,
    preferred_start   date        NOT NULL,
    notes             text        NOT NULL DEFAULT '',
    status            text        NOT NULL,
    consent_id        uuid        NOT NULL REFERENCES consents (id),
    screening_id      uuid        NOT NULL REFERENCES screenings (id),
    cancel_reason     text,
    cancelled_at      timestamptz,
    version           bigint      NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX courses_patient ON courses (patient_id, created_at);

-- Who read which patient record, when. Ids only: never names or bodies.
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_role  text        NOT NULL,
    actor_token text        NOT NULL,
    action      text        NOT NULL,
    patient_id  uuid        NOT NULL,
    request_id  text        NOT NULL
);
CREATE INDEX audit_log_patient ON audit_log (patient_id, id);
