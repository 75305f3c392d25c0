CREATE TABLE patients (
    id                 uuid        PRIMARY KEY,
    family_name        text        NOT NULL,
    given_name         text        NOT NULL,
    birth_date         date        NOT NULL,
    sex                text        NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    phone              text,
    email              text,
    preferred_language text        NOT NULL,
    version            bigint      NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

-- Duplicate rule "same name, birth date and phone", enforced by Postgres so
-- two desks registering the same person at once cannot both succeed.
CREATE UNIQUE INDEX patients_identity_key ON patients (family_name, given_name, birth_date, phone)
    WHERE phone IS NOT NULL;
