-- The pools' watch over the schedules: the span in which some pool looked at them with no
-- long silence (each pool's workers look every few seconds, and each firing is a look). A
-- tick that came before it began came while no pool ran: --catch-up none misses it. One
-- row, made by a store's first look. Times are epoch milliseconds.
CREATE TABLE cron_watch (
    id            integer PRIMARY KEY CHECK (id = 1),
    watched_from  bigint  NOT NULL,           -- the first look of the unbroken watch
    watched_until bigint  NOT NULL            -- the latest look
);
