-- Revenue recognised from a course's prepaid money, once per course, cycle
-- and kind (the lab fee at culture start, the cycle's share when its
-- infusion is given), whatever the events that ask for it; and the prices
-- the course was invoiced with, which recognition uses.
CREATE TABLE recognitions (
    course_id  uuid        NOT NULL,
    cycle      int         NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('lab_fee', 'infusion')),
    amount     bigint      NOT NULL CHECK (amount >= 0),
    posting_id uuid        NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (course_id, cycle, kind)
);
ALTER TABLE courses ADD COLUMN prices jsonb;
ALTER TABLE courses ADD COLUMN cycles int NOT NULL DEFAULT 0;
