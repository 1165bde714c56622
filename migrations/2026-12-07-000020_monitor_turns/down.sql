-- Monitors read whole again. monitors_evaluate (sql/55_events.sql) reads turns_when: the
-- rules of a release before this migration are the ones to apply after it is reverted.
DROP INDEX IF EXISTS balance_monitors_threshold;
ALTER TABLE balance_monitors DROP COLUMN IF EXISTS turns_when;
