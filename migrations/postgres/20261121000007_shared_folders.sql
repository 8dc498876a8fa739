-- Shared folders: a namespace of kind 'shared' whose members each mount it in their home. A mount
-- point is a folder node of the member's home naming the namespace; its content is the
-- namespace's root. Deleting the namespace removes every mount point and membership.
ALTER TABLE namespaces DROP CONSTRAINT namespaces_kind_check;
ALTER TABLE namespaces ADD CONSTRAINT namespaces_kind_check CHECK (kind IN ('home', 'shared'));

ALTER TABLE nodes ADD COLUMN mount_namespace_id UUID REFERENCES namespaces (id) ON DELETE CASCADE;
CREATE INDEX nodes_by_mount ON nodes (mount_namespace_id) WHERE mount_namespace_id IS NOT NULL;

CREATE TABLE shared_folder_members (
    namespace_id  UUID   NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    user_id       UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT   NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    mount_node_id UUID   NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    joined_at     BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, user_id)
);
CREATE INDEX shared_folder_members_by_user ON shared_folder_members (user_id);
CREATE UNIQUE INDEX shared_folder_one_owner ON shared_folder_members (namespace_id) WHERE role = 'owner';
