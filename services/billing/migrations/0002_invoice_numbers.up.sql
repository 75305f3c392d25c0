-- Issue 8: invoice numbers, sequential and gapless per clinic and year.
-- The issuing transaction takes the year's row (INSERT ... ON CONFLICT DO
-- UPDATE locks it) and holds it until it commits: numbers are handed out
-- one transaction at a time, and a transaction that rolls back gives its
-- number back, so the committed numbers have no gap and no duplicate. (A
-- Postgres SEQUENCE would be faster but burns numbers on rollback.)
CREATE TABLE invoice_numbers (
    year int    PRIMARY KEY,
    last bigint NOT NULL CHECK (last >= 1)
);
