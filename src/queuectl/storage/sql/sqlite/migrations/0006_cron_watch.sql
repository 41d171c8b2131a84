-- The pools' watch over the schedules: the span in which some pool looked at them with no
-- long silence (each pool's workers look every few seconds, and each firing is a look). A
-- tick that came before it began came while no pool ran: --catch-up none misses it. One
-- row, made by a store's first look. Times are epoch milliseconds.
CREATE TABLE cron_watch (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    watched_from  INTEGER NOT NULL,           -- the first look of the unbroken watch
    watched_until INTEGER NOT NULL            -- the latest look
);
