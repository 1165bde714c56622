-- Balance monitors found by their threshold. A monitor's state always fits its wallet's
-- numbers (the database evaluates it at every change), so only a monitor whose amount the
-- new value has reached or passed can turn: one the value turns by falling to it (a clear
-- `lt`/`lte`, a triggered `gt`/`gte`) when its amount is at or above the value, the others
-- when it is at or below. `turns_when` says which, and the index finds those few among a
-- wallet's monitors without reading the rest (sql/55_events.sql, monitors_evaluate).
ALTER TABLE balance_monitors
    ADD COLUMN turns_when text NOT NULL
        GENERATED ALWAYS AS (CASE WHEN (operator IN ('lt', 'lte')) = (state = 'clear')
                                  THEN 'falls' ELSE 'rises' END) STORED;

COMMENT ON COLUMN balance_monitors.turns_when IS
    'falls: the monitor turns when its value falls to its amount (a clear lt or lte, a triggered gt or gte); rises: when it rises to it.';

CREATE INDEX balance_monitors_threshold ON balance_monitors (wallet_id, field, turns_when, amount);
