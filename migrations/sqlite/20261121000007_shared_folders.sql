-- no-transaction
-- Shared folders: a namespace of kind 'shared' whose members each mount it in their home. A mount
-- point is a folder node of the member's home naming the namespace; its content is the
-- namespace's root. Deleting the namespace removes every mount point and membership.
--
-- SQLite cannot change a CHECK constraint in place: the namespaces table is rebuilt (SQLite's
-- documented procedure), with foreign keys off so that dropping the old table cascades nothing.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE namespaces_rebuilt (
    id            BLOB   PRIMARY KEY NOT NULL,
    owner_id      BLOB   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT   NOT NULL CHECK (kind IN ('home', 'shared')),
    root_id       BLOB   NOT NULL,
    used_bytes    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    change_seq    BIGINT NOT NULL DEFAULT 0,
    journal_floor BIGINT NOT NULL DEFAULT 0
);
INSERT INTO namespaces_rebuilt (id, owner_id, kind, root_id, used_bytes, created_at, change_seq, journal_floor)
    SELECT id, owner_id, kind, root_id, used_bytes, created_at, change_seq, journal_floor FROM namespaces;
DROP TABLE namespaces;
ALTER TABLE namespaces_rebuilt RENAME TO namespaces;
CREATE UNIQUE INDEX namespaces_one_home ON namespaces (owner_id) WHERE kind = 'home';

ALTER TABLE nodes ADD COLUMN mount_namespace_id BLOB REFERENCES namespaces (id) ON DELETE CASCADE;
CREATE INDEX nodes_by_mount ON nodes (mount_namespace_id) WHERE mount_namespace_id IS NOT NULL;

CREATE TABLE shared_folder_members (
    namespace_id  BLOB   NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    user_id       BLOB   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT   NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    mount_node_id BLOB   NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    joined_at     BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, user_id)
);
CREATE INDEX shared_folder_members_by_user ON shared_folder_members (user_id);
CREATE UNIQUE INDEX shared_folder_one_owner ON shared_folder_members (namespace_id) WHERE role = 'owner';
COMMIT;
PRAGMA foreign_key_check;
PRAGMA foreign_keys = ON;
