-- Issue 8: price lists and policies as data, invoices, payments, refunds,
-- credit notes, the double-entry ledger, and what billing knows of courses.
-- Money is bigint minor units with an ISO 4217 code beside it; never a
-- float.

-- The clinic's price lists and cancellation policies, edited by admin. An
-- invoice keeps the prices it was issued with (its lines), so editing a
-- list never changes an invoice.
CREATE TABLE price_lists (
    program          text        NOT NULL,
    protocol_version text        NOT NULL,
    valid_from       date        NOT NULL,
    definition       jsonb       NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (program, protocol_version, valid_from)
);

CREATE TABLE cancellation_policies (
    program    text        PRIMARY KEY,
    definition jsonb       NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The money-event sequence of each account: every money event of the
-- account takes the next number in the transaction that records it.
ALTER TABLE accounts ADD COLUMN sequence bigint NOT NULL DEFAULT 0;

-- Courses as scheduling announces them (a version-guarded read model).
CREATE TABLE courses (
    course_id        uuid        PRIMARY KEY,
    patient_id       uuid        NOT NULL,
    program          text        NOT NULL,
    protocol_version text        NOT NULL,
    status           text        NOT NULL,
    culture_started  boolean     NOT NULL DEFAULT false,
    infusions_given  int         NOT NULL DEFAULT 0,
    version          bigint      NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX courses_patient ON courses (patient_id);

CREATE TABLE invoices (
    id          uuid        PRIMARY KEY,
    patient_id  uuid        NOT NULL REFERENCES accounts (patient_id),
    course_id   uuid,
    cycle       int         NOT NULL DEFAULT 0,
    kind        text        NOT NULL,
    currency    char(3)     NOT NULL,
    -- Assigned when the invoice is issued (invoice_numbers), never in draft.
    number      text        UNIQUE,
    status      text        NOT NULL CHECK (status IN ('draft', 'issued', 'partially_paid', 'paid', 'overdue', 'void')),
    total       bigint      NOT NULL CHECK (total >= 0),
    paid        bigint      NOT NULL CHECK (paid >= 0),
    credited    bigint      NOT NULL CHECK (credited >= 0),
    refunded    bigint      NOT NULL CHECK (refunded >= 0),
    issued_at   timestamptz,
    due_date    date,
    -- The lines and the rest of the invoice's state as the domain keeps it.
    state       jsonb       NOT NULL,
    version     bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CHECK ((status = 'draft') = (number IS NULL)),
    CHECK (refunded <= paid)
);
CREATE INDEX invoices_patient ON invoices (patient_id, created_at);
CREATE INDEX invoices_course ON invoices (course_id, cycle);
CREATE INDEX invoices_unpaid ON invoices (due_date) WHERE status IN ('issued', 'partially_paid');

CREATE TABLE payments (
    id                 uuid        PRIMARY KEY,
    patient_id         uuid        NOT NULL REFERENCES accounts (patient_id),
    amount             bigint      NOT NULL CHECK (amount > 0),
    currency           char(3)     NOT NULL,
    method             text        NOT NULL CHECK (method IN ('cash', 'card', 'transfer', 'insurance')),
    -- The payment system's or bank's reference: never recorded twice.
    external_reference text        NOT NULL UNIQUE,
    received_at        timestamptz NOT NULL,
    allocations        jsonb       NOT NULL,
    to_account_credit  bigint      NOT NULL CHECK (to_account_credit >= 0),
    created_at         timestamptz NOT NULL
);

CREATE TABLE refunds (
    id          uuid        PRIMARY KEY,
    patient_id  uuid        NOT NULL REFERENCES accounts (patient_id),
    invoice_id  uuid        REFERENCES invoices (id),
    amount      bigint      NOT NULL CHECK (amount > 0),
    currency    char(3)     NOT NULL,
    reason      text        NOT NULL,
    -- Refunds above the approval limit wait for an admin.
    status      text        NOT NULL CHECK (status IN ('pending_approval', 'issued', 'rejected')),
    approved_by text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
-- Never twice for the same reason on one invoice.
CREATE UNIQUE INDEX refunds_once_per_reason ON refunds (invoice_id, lower(reason)) WHERE status <> 'rejected';

CREATE TABLE credit_notes (
    id                uuid        PRIMARY KEY,
    patient_id        uuid        NOT NULL REFERENCES accounts (patient_id),
    invoice_id        uuid        NOT NULL REFERENCES invoices (id),
    currency          char(3)     NOT NULL,
    total             bigint      NOT NULL CHECK (total > 0),
    reduce_owed       bigint      NOT NULL CHECK (reduce_owed >= 0),
    refund            bigint      NOT NULL CHECK (refund >= 0),
    to_account_credit bigint      NOT NULL CHECK (to_account_credit >= 0),
    reason            text        NOT NULL,
    created_at        timestamptz NOT NULL,
    CHECK (total = reduce_owed + refund + to_account_credit)
);

-- The ledger: double-entry postings per patient account, numbered by the
-- account's sequence. Balances are derived from these rows, never stored.
CREATE TABLE postings (
    id          uuid        PRIMARY KEY,
    patient_id  uuid        NOT NULL REFERENCES accounts (patient_id),
    sequence    bigint      NOT NULL,
    kind        text        NOT NULL,
    currency    char(3)     NOT NULL,
    invoice_id  uuid,
    payment_id  uuid,
    refund_id   uuid,
    credit_note_id uuid,
    lines       jsonb       NOT NULL,
    at          timestamptz NOT NULL,
    UNIQUE (patient_id, sequence)
);
