-- Secrets every server instance must share (e.g. the key that signs change cursors). Created by
-- the first instance that needs one; never sent to clients.
CREATE TABLE server_secrets (
    name  TEXT  PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);
