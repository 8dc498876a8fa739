-- Accounts, access tokens and sign-up invitations (SQLite).
-- Timestamps are microseconds since the Unix epoch (BIGINT on both databases, so that the same SQL
-- compares them); ids are UUIDs (16-byte BLOBs here).

CREATE TABLE users (
    id            BLOB    PRIMARY KEY NOT NULL,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      BOOLEAN NOT NULL,
    disabled      BOOLEAN NOT NULL,
    quota_bytes   BIGINT,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE access_tokens (
    id         BLOB   PRIMARY KEY NOT NULL,
    user_id    BLOB   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     BLOB   NOT NULL UNIQUE,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id, created_at);

CREATE TABLE invites (
    id          BLOB   PRIMARY KEY NOT NULL,
    code_digest BLOB   NOT NULL UNIQUE,
    email       TEXT,
    created_by  BLOB   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_by BLOB   REFERENCES users (id) ON DELETE SET NULL
);
