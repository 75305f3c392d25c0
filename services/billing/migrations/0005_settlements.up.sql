-- Issue 8: credit notes numbered like invoices, what was taken off revenue,
-- and the settlements billing makes on its own under the policy (a course
-- cancelled, a product failed), each once, whatever the events that ask.

-- Credit notes are legal documents too: numbered per clinic and year,
-- gapless, assigned when the note is issued (the same discipline as
-- invoice_numbers: the year's row is locked until the issuing transaction
-- ends, and a rollback gives the number back).
CREATE TABLE credit_note_numbers (
    year int    PRIMARY KEY,
    last bigint NOT NULL CHECK (last >= 1)
);

ALTER TABLE credit_notes ADD COLUMN number text UNIQUE;
ALTER TABLE credit_notes ADD COLUMN course_id uuid;
-- The part of the note's total that had been earned (taken off revenue);
-- the rest is taken off deferred revenue.
ALTER TABLE credit_notes ADD COLUMN from_revenue bigint NOT NULL DEFAULT 0
    CHECK (from_revenue >= 0 AND from_revenue <= total);
CREATE INDEX credit_notes_invoice ON credit_notes (invoice_id);
CREATE INDEX credit_notes_patient ON credit_notes (patient_id, created_at);

-- What a cancelled course keeps is recognised once, as kind 'forfeit'.
ALTER TABLE recognitions DROP CONSTRAINT recognitions_kind_check;
ALTER TABLE recognitions ADD CONSTRAINT recognitions_kind_check CHECK (kind IN ('lab_fee', 'infusion', 'forfeit'));

-- A settlement billing made under the policy: one per cancelled course, one
-- per failed product. The key is taken in the transaction that makes the
-- credit notes, so a repeated or late event settles nothing twice.
CREATE TABLE settlements (
    key        text        PRIMARY KEY,
    course_id  uuid        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('course_cancelled', 'product_failed')),
    cycle      int         NOT NULL DEFAULT 0,
    -- The settlement's parts in minor units (the course's currency), as the
    -- policy computed them; for the record and the course's history.
    detail     jsonb       NOT NULL,
    at         timestamptz NOT NULL
);
CREATE INDEX settlements_course ON settlements (course_id);

-- A refund of account credit (no invoice) is never twice for one reason
-- either.
CREATE UNIQUE INDEX refunds_credit_once_per_reason ON refunds (patient_id, lower(reason))
    WHERE invoice_id IS NULL AND status <> 'rejected';
