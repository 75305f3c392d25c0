-- Issue 9: the IANA time zone the patient lives in (Europe/Berlin), so
-- follow-up can keep reminders out of the patient's night. NULL: the clinic's
-- zone, which is every patient registered before this column.
ALTER TABLE patients ADD COLUMN time_zone text;
