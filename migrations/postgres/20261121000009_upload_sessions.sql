-- Upload sessions: resumable (tus) and delta uploads in progress, and their blocks in file order.
-- A stream session's blocks are appended as its bytes arrive (the last one may be partial and is
-- rewritten by the next append); a delta session declares all of its blocks at the start and
-- marks each present once it is stored or known to be in a file its owner can read. Blocks
-- referenced here are never collected. Timestamps: BIGINT microseconds since the epoch.
CREATE TABLE upload_sessions (
    id                 UUID    PRIMARY KEY NOT NULL,
    owner_id           UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind               TEXT    NOT NULL CHECK (kind IN ('stream', 'blocks')),
    path               TEXT    NOT NULL,
    mode               TEXT    NOT NULL CHECK (mode IN ('add', 'overwrite', 'update')),
    update_rev         UUID,
    autorename         BOOLEAN NOT NULL,
    client_modified    BIGINT,
    media_type         TEXT,
    length             BIGINT  NOT NULL,
    received           BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL,
    committed_node     UUID,
    committed_revision UUID
);
CREATE INDEX upload_sessions_by_owner ON upload_sessions (owner_id);
CREATE INDEX upload_sessions_by_expiry ON upload_sessions (expires_at);

CREATE TABLE upload_blocks (
    upload_id  UUID    NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    position   BIGINT  NOT NULL,
    block_hash BYTEA    NOT NULL,
    size       BIGINT  NOT NULL,
    present    BOOLEAN NOT NULL,
    PRIMARY KEY (upload_id, position)
);
CREATE INDEX upload_blocks_by_block ON upload_blocks (block_hash);
