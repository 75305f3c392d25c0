-- Issue 10: a course's story from scheduling's own view, one row per
-- event about the course, written in the transaction of the change (with
-- its outbox row): planned, funded, its appointments, the culture, the
-- release or failure, infusions, holds, resumes, completion, cancellation.
-- It holds ids, kinds and reasons, never personal data.
CREATE TABLE course_timeline (
    seq            bigserial   PRIMARY KEY,
    course_id      uuid        NOT NULL,
    at             timestamptz NOT NULL,
    event          text        NOT NULL,
    appointment_id uuid,
    kind           text,
    cycle          int,
    starts_at      timestamptz,
    product_id     text,
    reason         text
);
CREATE INDEX course_timeline_course ON course_timeline (course_id, seq);
