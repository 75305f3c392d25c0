-- A patient's account, opened when intake registers the patient; ledger
-- entries (invoices, payments, refunds) arrive with the billing issue and
-- always sum to the balance.
CREATE TABLE accounts (
    patient_id uuid        PRIMARY KEY,
    currency   char(3)     NOT NULL,
    opened_at  timestamptz NOT NULL,
    version    bigint      NOT NULL
);
