-- Treatment consents withdrawn, from intake's ConsentWithdrawn. Events of
-- different aggregates arrive in any order: a CourseRequested processed
-- after the withdrawal of the consent it relied on must not be planned.
CREATE TABLE treatment_withdrawals (
    consent_id   uuid        PRIMARY KEY,
    patient_id   uuid        NOT NULL,
    program      text        NOT NULL,
    withdrawn_at timestamptz NOT NULL
);
CREATE INDEX treatment_withdrawals_patient ON treatment_withdrawals (patient_id, program, withdrawn_at);
