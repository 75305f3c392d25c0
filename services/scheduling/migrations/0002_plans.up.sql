-- Issue 7: protocols, resources and the calendar as data; courses, their
-- cycles, appointments (one row per occurrence) and cell products.

-- btree_gist lets an exclusion constraint combine equality on a uuid with
-- overlap of a time range (trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- A program's protocol, one row per version. A version a course was planned
-- with is never changed (the course also keeps a copy).
CREATE TABLE protocols (
    program    text        NOT NULL,
    version    text        NOT NULL,
    definition jsonb       NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (program, version)
);

CREATE TABLE resources (
    id         uuid        PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('infusion_chair', 'draw_station', 'apheresis_machine', 'culture_slot')),
    name       text        NOT NULL UNIQUE,
    active     boolean     NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL
);

-- Opening hours in the clinic's zone, per weekday (0 = Sunday), as minutes
-- after local midnight.
CREATE TABLE opening_hours (
    weekday   smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    opens_at  smallint NOT NULL CHECK (opens_at BETWEEN 0 AND 1440),
    closes_at smallint NOT NULL CHECK (closes_at BETWEEN 0 AND 1440),
    CHECK (opens_at < closes_at),
    PRIMARY KEY (weekday, opens_at)
);

-- Days the clinic is closed (holidays, closures), dates in its zone.
CREATE TABLE closures (
    day    date PRIMARY KEY,
    reason text NOT NULL
);

CREATE TABLE courses (
    id               uuid        PRIMARY KEY,
    patient_id       uuid        NOT NULL,
    program          text        NOT NULL,
    protocol_version text        NOT NULL,
    -- The protocol the course was planned with, as it was then.
    protocol         jsonb,
    status           text        NOT NULL,
    -- The status a hold returns to on resume.
    held_from        text,
    reason           text,
    detail           text,
    preferred_start  date,
    -- intake's version of the course, to ignore stale intake events.
    intake_version   bigint      NOT NULL,
    version          bigint      NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX courses_patient ON courses (patient_id);

CREATE TABLE cycles (
    course_id   uuid NOT NULL REFERENCES courses (id),
    cycle       int  NOT NULL CHECK (cycle >= 1),
    phase       text NOT NULL,
    target_date date NOT NULL,
    status      text NOT NULL,
    PRIMARY KEY (course_id, cycle)
);

CREATE TABLE appointments (
    id              uuid        PRIMARY KEY,
    course_id       uuid        REFERENCES courses (id),
    cycle           int,
    step            int,
    session         int,
    patient_id      uuid        NOT NULL,
    program         text        NOT NULL DEFAULT '',
    kind            text        NOT NULL,
    resource_id     uuid        NOT NULL REFERENCES resources (id),
    resource_kind   text        NOT NULL,
    patient_present boolean     NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    -- The end of the time the resource is blocked: end_at plus the
    -- protocol's buffer (cleaning, preparation). Computed by the service,
    -- since timestamptz + interval is not immutable.
    blocked_until   timestamptz NOT NULL,
    status          text        NOT NULL CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled', 'suspended', 'missed', 'no_show')),
    product_id      text,
    dose_cells      bigint,
    reason          text,
    checked_in_at   timestamptz,
    completed_at    timestamptz,
    version         bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK (start_at < end_at AND end_at <= blocked_until),
    -- No double booking of a resource, buffers included, decided by
    -- Postgres: two transactions racing for one chair cannot both commit.
    CONSTRAINT appointments_no_double_booking EXCLUDE USING gist (
        resource_id WITH =, tstzrange(start_at, blocked_until, '[)') WITH &&
    ) WHERE (status IN ('booked', 'checked_in', 'completed')),
    -- A patient cannot be in two places at once (a culture runs without the
    -- patient).
    CONSTRAINT appointments_patient_elsewhere EXCLUDE USING gist (
        patient_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&
    ) WHERE (patient_present AND status IN ('booked', 'checked_in', 'completed'))
);
CREATE INDEX appointments_course ON appointments (course_id, cycle, step, session);
CREATE INDEX appointments_start ON appointments (start_at, id);
CREATE INDEX appointments_patient ON appointments (patient_id, start_at);

-- Donor lots: released inventory a donor protocol allocates doses from.
CREATE TABLE lots (
    id                  uuid        PRIMARY KEY,
    din                 text        NOT NULL UNIQUE,
    program             text        NOT NULL,
    donor_id            text        NOT NULL,
    doses               int         NOT NULL CHECK (doses >= 1),
    collected_at        timestamptz NOT NULL,
    infection_tested_at timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    created_at          timestamptz NOT NULL
);

-- Cell products: autologous products collected from a patient, and donor
-- doses. din is the ISBT 128 DIN as printed (with its check character),
-- the product's id on every label, API and event.
CREATE TABLE products (
    id                 uuid        PRIMARY KEY,
    din                text        NOT NULL UNIQUE,
    source             text        NOT NULL CHECK (source IN ('autologous', 'donor')),
    lot_id             uuid        REFERENCES lots (id),
    patient_id         uuid,
    course_id          uuid        REFERENCES courses (id),
    cycle              int,
    status             text        NOT NULL,
    state              jsonb       NOT NULL,
    version            bigint      NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX products_course ON products (course_id, cycle);
-- One unallocated donor dose is taken at a time (FOR UPDATE SKIP LOCKED).
CREATE INDEX products_available ON products (lot_id, status) WHERE patient_id IS NULL;

-- The last DIN sequence number per facility and year, taken with the row
-- locked in the transaction that creates the product, so two products never
-- share a DIN.
CREATE TABLE din_sequences (
    facility text NOT NULL,
    year     int  NOT NULL,
    last     int  NOT NULL,
    PRIMARY KEY (facility, year)
);

-- Chain-of-identity refusals, kept for the record.
CREATE TABLE infusion_blocks (
    id             uuid        PRIMARY KEY,
    appointment_id uuid        NOT NULL REFERENCES appointments (id),
    scanned        text        NOT NULL,
    reason         text        NOT NULL,
    at             timestamptz NOT NULL
);
CREATE INDEX infusion_blocks_appointment ON infusion_blocks (appointment_id, at);
