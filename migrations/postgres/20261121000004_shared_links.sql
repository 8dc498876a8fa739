-- Shared links: a token (stored as its SHA-256) that gives people without an account access to
-- one file or folder. Deleting the node for good deletes its links.
CREATE TABLE shared_links (
    id            UUID    PRIMARY KEY NOT NULL,
    token_digest  BYTEA    NOT NULL UNIQUE,
    owner_id      UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    namespace_id  UUID    NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    node_id       UUID    NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    password_hash TEXT,
    expires_at    BIGINT,
    allow_download BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX shared_links_by_owner ON shared_links (owner_id, created_at DESC);
CREATE INDEX shared_links_by_node ON shared_links (node_id);
