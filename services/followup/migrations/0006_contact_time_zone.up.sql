-- The patient's time zone, from intake's PatientRegistered and
-- PatientUpdated (an IANA name; '' for the clinic's): quiet hours are kept
-- where the patient is.
ALTER TABLE patient_contacts ADD COLUMN time_zone text NOT NULL DEFAULT '';
