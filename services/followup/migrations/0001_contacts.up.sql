-- How to reach each patient, from intake's events: reminders go only to
-- channels the patient consented to, in their language.
CREATE TABLE patient_contacts (
    patient_id         uuid        PRIMARY KEY,
    phone              text,
    email              text,
    preferred_language text        NOT NULL,
    sms_consent        boolean     NOT NULL,
    email_consent      boolean     NOT NULL,
    version            bigint      NOT NULL,
    updated_at         timestamptz NOT NULL
);
