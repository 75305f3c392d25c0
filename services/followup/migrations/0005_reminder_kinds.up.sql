-- Reminders of other kinds (issue 9).
--
-- The cycle of a visit: the next cycle's draw (a draw of cycle 2 or later)
-- gets a reminder of its own. 0 for an ad-hoc visit and for visits stored
-- before this migration.
ALTER TABLE visits ADD COLUMN cycle int NOT NULL DEFAULT 0;

-- A reminder about no visit: an overdue invoice (kind 'payment', subject
-- the invoice) or a course's long-term follow-up (kind
-- 'long_term_follow_up', subject the course, step its months after the
-- course). Such a reminder has no appointment and no occurrence; its key is
-- (subject, kind, step). details holds what its text names (the invoice's
-- number and the amount due, the months), never other personal data.
ALTER TABLE reminders
    ALTER COLUMN appointment_id DROP NOT NULL,
    ALTER COLUMN occurrence_start DROP NOT NULL,
    ADD COLUMN subject_id uuid,
    ADD COLUMN step int NOT NULL DEFAULT 0,
    ADD COLUMN details jsonb,
    ADD CONSTRAINT reminders_about_one CHECK (
        (appointment_id IS NOT NULL AND occurrence_start IS NOT NULL AND subject_id IS NULL)
        OR (appointment_id IS NULL AND occurrence_start IS NULL AND subject_id IS NOT NULL));
CREATE UNIQUE INDEX reminders_subject_key ON reminders (subject_id, kind, step) WHERE subject_id IS NOT NULL;

-- The start sweep looks for attempts a dead process left 'sending'.
CREATE INDEX reminder_attempts_sending ON reminder_attempts (started_at) WHERE status = 'sending';
