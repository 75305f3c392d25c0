-- Issue 8: the funding gate. A course is funded when billing's DepositPaid
-- arrives; a culture does not start for an unfunded course unless its
-- protocol needs no deposit.
ALTER TABLE courses ADD COLUMN funded_at timestamptz;
