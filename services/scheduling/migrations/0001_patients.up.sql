-- Patients scheduling knows about, from intake's events. The two patient
-- identifiers (name and birth date) are what a nurse checks against a cell
-- product's label for the chain of identity.
CREATE TABLE patients (
    patient_id  uuid        PRIMARY KEY,
    family_name text        NOT NULL,
    given_name  text        NOT NULL,
    birth_date  date        NOT NULL,
    version     bigint      NOT NULL,
    updated_at  timestamptz NOT NULL
);
