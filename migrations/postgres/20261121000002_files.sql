-- Files and folders as a tree of nodes per namespace, file revisions as ordered block lists, and
-- the index of stored blocks (PostgreSQL). Timestamps: BIGINT microseconds since the epoch.

CREATE TABLE namespaces (
    id         UUID   PRIMARY KEY,
    owner_id   UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT   NOT NULL CHECK (kind IN ('home')),
    root_id    UUID   NOT NULL,
    used_bytes BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX namespaces_one_home ON namespaces (owner_id) WHERE kind = 'home';

-- The root of a namespace is a folder row with no parent and an empty name.
CREATE TABLE nodes (
    id              UUID    PRIMARY KEY,
    namespace_id    UUID    NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    parent_id       UUID    REFERENCES nodes (id),
    name            TEXT    NOT NULL,
    name_key        TEXT    COLLATE "C" NOT NULL,
    is_folder       BOOLEAN NOT NULL,
    revision_id     UUID,
    size            BIGINT,
    content_hash    BYTEA,
    client_modified BIGINT,
    created_at      BIGINT  NOT NULL,
    modified_at     BIGINT  NOT NULL,
    trashed_at      BIGINT
);
-- One live name per folder (case- and normalisation-insensitive); also serves paged listings.
CREATE UNIQUE INDEX nodes_live_names ON nodes (parent_id, name_key) WHERE trashed_at IS NULL;
CREATE INDEX nodes_by_parent ON nodes (parent_id);
CREATE INDEX nodes_in_trash ON nodes (namespace_id, trashed_at DESC, id DESC) WHERE trashed_at IS NOT NULL;
CREATE INDEX nodes_by_revision ON nodes (revision_id) WHERE revision_id IS NOT NULL;

CREATE TABLE revisions (
    id              UUID   PRIMARY KEY,
    node_id         UUID   NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    size            BIGINT NOT NULL,
    content_hash    BYTEA  NOT NULL,
    media_type      TEXT,
    client_modified BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX revisions_by_node ON revisions (node_id, created_at DESC);
CREATE INDEX revisions_by_age ON revisions (created_at);

CREATE TABLE blocks (
    hash       BYTEA  PRIMARY KEY,
    size       BIGINT NOT NULL,
    touched_at BIGINT NOT NULL
);
CREATE INDEX blocks_by_touch ON blocks (touched_at);

CREATE TABLE revision_blocks (
    revision_id UUID   NOT NULL REFERENCES revisions (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    block_hash  BYTEA  NOT NULL REFERENCES blocks (hash),
    PRIMARY KEY (revision_id, position)
);
CREATE INDEX revision_blocks_by_block ON revision_blocks (block_hash);

-- Accounts created before this migration get their home namespace.
CREATE TEMPORARY TABLE new_homes AS
    SELECT id AS owner_id, gen_random_uuid() AS namespace_id, gen_random_uuid() AS root_id, created_at
    FROM users;
INSERT INTO namespaces (id, owner_id, kind, root_id, used_bytes, created_at)
    SELECT namespace_id, owner_id, 'home', root_id, 0, created_at FROM new_homes;
INSERT INTO nodes (id, namespace_id, parent_id, name, name_key, is_folder, created_at, modified_at)
    SELECT root_id, namespace_id, NULL, '', '', TRUE, created_at, created_at FROM new_homes;
DROP TABLE new_homes;
