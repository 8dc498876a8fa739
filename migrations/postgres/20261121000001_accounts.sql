-- Accounts, access tokens and sign-up invitations (PostgreSQL).
-- Timestamps are microseconds since the Unix epoch (BIGINT on both databases, so that the same SQL
-- compares them). Emails sort bytewise (COLLATE "C"), as on SQLite, so paging order is the same.

CREATE TABLE users (
    id            UUID    PRIMARY KEY,
    email         TEXT    COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      BOOLEAN NOT NULL,
    disabled      BOOLEAN NOT NULL,
    quota_bytes   BIGINT,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE access_tokens (
    id         UUID   PRIMARY KEY,
    user_id    UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     BYTEA  NOT NULL UNIQUE,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id, created_at);

CREATE TABLE invites (
    id          UUID   PRIMARY KEY,
    code_digest BYTEA  NOT NULL UNIQUE,
    email       TEXT,
    created_by  UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_by UUID   REFERENCES users (id) ON DELETE SET NULL
);
