-- Contact consents from intake, one row per consent so that a withdrawal
-- processed before its recording (concurrent workers) still wins: each
-- consent keeps its highest version.
CREATE TABLE channel_consents (
    consent_id uuid        PRIMARY KEY,
    patient_id uuid        NOT NULL,
    channel    text        NOT NULL CHECK (channel IN ('sms', 'email')),
    active     boolean     NOT NULL,
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX channel_consents_patient ON channel_consents (patient_id) WHERE active;

-- Channel consent now comes from channel_consents; contacts keep the rest.
ALTER TABLE patient_contacts DROP COLUMN sms_consent, DROP COLUMN email_consent;
