-- The relay is no longer woken by NOTIFY: pg_notify takes a cluster-wide
-- lock at commit that serialises every committing producer (about 30 % of
-- their throughput). The Outbox wakes the relay of its own process after
-- the commit instead (pgdb.AfterCommit), and the leading relay polls the
-- outbox often enough to pick up rows other replicas committed.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
