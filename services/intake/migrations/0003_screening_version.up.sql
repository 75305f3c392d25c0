-- Issue 6: every intake aggregate carries a version, screenings included, so
-- ScreeningCompleted publishes the stored version instead of a constant.
-- A screening never changes once completed: existing rows are version 1.
ALTER TABLE screenings ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE screenings ALTER COLUMN version DROP DEFAULT;
