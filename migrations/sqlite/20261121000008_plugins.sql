-- Plugins: components (stored once per digest, shared by every instance), installed plugins with
-- their settings, a generation counter that instances poll to pick up changes, and the audit log.
CREATE TABLE plugin_components (
    digest     TEXT   PRIMARY KEY NOT NULL,
    wasm       BLOB  NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE plugins (
    id                   BLOB    PRIMARY KEY NOT NULL,
    name                 TEXT    NOT NULL UNIQUE,
    version              TEXT    NOT NULL,
    description          TEXT    NOT NULL,
    hooks                TEXT    NOT NULL,
    interface_version    TEXT    NOT NULL,
    digest               TEXT    NOT NULL REFERENCES plugin_components (digest),
    config               TEXT    NOT NULL,
    config_schema        TEXT,
    enabled              BOOLEAN NOT NULL,
    position             BIGINT  NOT NULL,
    memory_bytes         BIGINT  NOT NULL,
    time_ms              BIGINT  NOT NULL,
    output_bytes         BIGINT  NOT NULL,
    failure_policy       TEXT    NOT NULL CHECK (failure_policy IN ('deny', 'allow')),
    consecutive_failures BIGINT  NOT NULL DEFAULT 0,
    disabled_reason      TEXT,
    installed_at         BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);

-- Bumped by every change to plugins; each instance reloads when it sees a new value.
CREATE TABLE plugin_generation (
    id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    generation BIGINT  NOT NULL
);
INSERT INTO plugin_generation (id, generation) VALUES (1, 0);

-- Every denial by a plugin, every failed call, and every administrator action on plugins.
CREATE TABLE plugin_audit (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             BIGINT NOT NULL,
    action         TEXT   NOT NULL,
    plugin_name    TEXT   NOT NULL,
    plugin_version TEXT,
    hook           TEXT,
    actor          TEXT,
    subject        TEXT,
    reason         TEXT,
    duration_us    BIGINT
);
CREATE INDEX plugin_audit_by_plugin ON plugin_audit (plugin_name, id);
