//! SQL shared by both backends.

macro_rules! select_users {
    ($rest:literal) => {
        concat!(
            "SELECT id, email, password_hash, is_admin, disabled, quota_bytes, created_at \
             FROM users ",
            $rest
        )
    };
}

macro_rules! select_tokens {
    ($rest:literal) => {
        concat!(
            "SELECT id, user_id, digest, name, created_at, expires_at FROM access_tokens ",
            $rest
        )
    };
}

pub const INSERT_USER: &str = "INSERT INTO users \
    (id, email, password_hash, is_admin, disabled, quota_bytes, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const UPDATE_USER: &str = "UPDATE users SET email = $2, password_hash = $3, is_admin = $4, \
    disabled = $5, quota_bytes = $6 WHERE id = $1";
pub const GET_USER: &str = select_users!("WHERE id = $1");
pub const FIND_USER_BY_EMAIL: &str = select_users!("WHERE email = $1");
pub const LOCK_USERS_AGAINST_INSERTS: &str = "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE";
pub const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
pub const LIST_USERS: &str = select_users!("ORDER BY email LIMIT $1");
pub const LIST_USERS_AFTER: &str = select_users!("WHERE email > $1 ORDER BY email LIMIT $2");

pub const INSERT_TOKEN: &str = "INSERT INTO access_tokens \
    (id, user_id, digest, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub const FIND_TOKEN_BY_DIGEST: &str = select_tokens!("WHERE digest = $1");
pub const LIST_TOKENS_FOR_USER: &str =
    select_tokens!("WHERE user_id = $1 ORDER BY created_at DESC, id DESC");
pub const DELETE_TOKEN: &str = "DELETE FROM access_tokens WHERE id = $1 AND user_id = $2";
pub const DELETE_TOKENS_OF_USER: &str = "DELETE FROM access_tokens WHERE user_id = $1";
pub const DELETE_EXPIRED_TOKENS_OF_USER: &str =
    "DELETE FROM access_tokens WHERE user_id = $1 AND expires_at <= $2";

pub const INSERT_INVITE: &str = "INSERT INTO invites \
    (id, code_digest, email, created_by, created_at, expires_at, accepted_by) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const FIND_INVITE_BY_DIGEST: &str = "SELECT id, code_digest, email, created_by, created_at, \
    expires_at, accepted_by FROM invites WHERE code_digest = $1";
pub const UPDATE_INVITE: &str = "UPDATE invites SET accepted_by = $2 WHERE id = $1";

// --- files -------------------------------------------------------------------------------------

macro_rules! node_columns {
    () => {
        "n.id, n.namespace_id, n.parent_id, n.name, n.is_folder, n.revision_id, n.size, \
         n.content_hash, n.client_modified, n.created_at, n.modified_at, n.trashed_at, \
         n.mount_namespace_id"
    };
}

pub const INSERT_NAMESPACE: &str = "INSERT INTO namespaces \
    (id, owner_id, kind, root_id, used_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub const INSERT_ROOT_NODE: &str = "INSERT INTO nodes \
    (id, namespace_id, parent_id, name, name_key, is_folder, created_at, modified_at) \
    VALUES ($1, $2, NULL, '', '', TRUE, $3, $3)";
pub const HOME_NAMESPACE: &str = "SELECT id, kind, owner_id, root_id, used_bytes FROM namespaces \
    WHERE owner_id = $1 AND kind = 'home'";
pub const SELECT_NAMESPACE: &str =
    "SELECT id, kind, owner_id, root_id, used_bytes FROM namespaces WHERE id = $1";
pub const SELECT_NAMESPACE_FOR_UPDATE: &str =
    "SELECT id, kind, owner_id, root_id, used_bytes FROM namespaces WHERE id = $1 FOR UPDATE";
pub const DELETE_NAMESPACE: &str = "DELETE FROM namespaces WHERE id = $1";
pub const ADD_USAGE: &str = "UPDATE namespaces SET used_bytes = used_bytes + $2 WHERE id = $1";
pub const USAGE_OF_OWNER: &str =
    "SELECT CAST(COALESCE(SUM(used_bytes), 0) AS BIGINT) FROM namespaces WHERE owner_id = $1";

pub const INSERT_NODE: &str = "INSERT INTO nodes \
    (id, namespace_id, parent_id, name, name_key, is_folder, revision_id, size, content_hash, \
     client_modified, created_at, modified_at, trashed_at, mount_namespace_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
pub const UPDATE_NODE: &str = "UPDATE nodes SET parent_id = $2, name = $3, name_key = $4, \
    revision_id = $5, size = $6, content_hash = $7, client_modified = $8, modified_at = $9, \
    trashed_at = $10, mount_namespace_id = $11 WHERE id = $1";
pub const GET_NODE: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.id = $1 AND n.parent_id IS NOT NULL"
);
pub const CHILD_NODE: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.parent_id = $1 AND n.name_key = $2 AND n.trashed_at IS NULL"
);
pub const CHILDREN: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.parent_id = $1 AND n.trashed_at IS NULL ORDER BY n.name_key LIMIT $2"
);
pub const CHILDREN_AFTER: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.parent_id = $1 AND n.trashed_at IS NULL AND n.name_key > $2 \
      ORDER BY n.name_key LIMIT $3"
);
pub const ANCESTORS: &str = concat!(
    "WITH RECURSIVE chain(id, depth) AS ( \
         SELECT parent_id, 1 FROM nodes WHERE id = $1 \
         UNION ALL \
         SELECT p.parent_id, chain.depth + 1 FROM nodes p JOIN chain ON p.id = chain.id \
         WHERE p.parent_id IS NOT NULL) \
     SELECT ",
    node_columns!(),
    " FROM nodes n JOIN chain ON n.id = chain.id WHERE n.parent_id IS NOT NULL ORDER BY chain.depth"
);
pub const SUBTREE_BYTES: &str = "WITH RECURSIVE sub(id) AS ( \
         SELECT id FROM nodes WHERE id = $1 \
         UNION ALL \
         SELECT c.id FROM nodes c JOIN sub ON c.parent_id = sub.id WHERE c.trashed_at IS NULL) \
     SELECT CAST(COALESCE(SUM(n.size), 0) AS BIGINT) FROM nodes n JOIN sub ON n.id = sub.id \
     WHERE NOT n.is_folder";
pub const SUBTREE: &str = concat!(
    "WITH RECURSIVE sub(id, depth) AS ( \
         SELECT id, 0 FROM nodes WHERE id = $1 \
         UNION ALL \
         SELECT c.id, sub.depth + 1 FROM nodes c JOIN sub ON c.parent_id = sub.id \
         WHERE c.trashed_at IS NULL) \
     SELECT ",
    node_columns!(),
    " FROM nodes n JOIN sub ON n.id = sub.id WHERE n.parent_id IS NOT NULL \
      ORDER BY sub.depth, n.name_key LIMIT $2"
);
pub const TRASHED: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.namespace_id = $1 AND n.trashed_at IS NOT NULL \
      ORDER BY n.trashed_at DESC, n.id DESC LIMIT $2"
);
pub const TRASHED_AFTER: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.namespace_id = $1 AND n.trashed_at IS NOT NULL \
      AND (n.trashed_at < $2 OR (n.trashed_at = $2 AND n.id < $3)) \
      ORDER BY n.trashed_at DESC, n.id DESC LIMIT $4"
);
pub const TRASHED_BEFORE: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.trashed_at IS NOT NULL AND n.trashed_at < $1 \
      ORDER BY n.trashed_at LIMIT $2"
);
// `$2` is a LIKE pattern whose `\`, `%` and `_` are escaped with `\`.
pub const SEARCH_NODES: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.namespace_id = $1 AND n.trashed_at IS NULL \
      AND n.parent_id IS NOT NULL AND n.name_key LIKE $2 ESCAPE '\\' \
      ORDER BY n.name_key, n.id LIMIT $3"
);
pub const SEARCH_NODES_AFTER: &str = concat!(
    "SELECT ",
    node_columns!(),
    " FROM nodes n WHERE n.namespace_id = $1 AND n.trashed_at IS NULL \
      AND n.parent_id IS NOT NULL AND n.name_key LIKE $2 ESCAPE '\\' \
      AND (n.name_key > $3 OR (n.name_key = $3 AND n.id > $4)) \
      ORDER BY n.name_key, n.id LIMIT $5"
);
pub const MOVE_CHILDREN: &str = "UPDATE nodes SET parent_id = $2 WHERE parent_id = $1";
pub const REHOME_SUBTREE: &str = "WITH RECURSIVE sub(id) AS ( \
         SELECT id FROM nodes WHERE id = $1 \
         UNION ALL \
         SELECT c.id FROM nodes c JOIN sub ON c.parent_id = sub.id) \
     UPDATE nodes SET namespace_id = $2 WHERE id IN (SELECT id FROM sub)";
pub const REHOME_LINKS: &str = "WITH RECURSIVE sub(id) AS ( \
         SELECT id FROM nodes WHERE id = $1 \
         UNION ALL \
         SELECT c.id FROM nodes c JOIN sub ON c.parent_id = sub.id) \
     UPDATE shared_links SET namespace_id = $2 WHERE node_id IN (SELECT id FROM sub)";
pub const DELETE_SUBTREE: &str = "WITH RECURSIVE sub(id) AS ( \
         SELECT id FROM nodes WHERE id = $1 \
         UNION ALL \
         SELECT c.id FROM nodes c JOIN sub ON c.parent_id = sub.id) \
     DELETE FROM nodes WHERE id IN (SELECT id FROM sub)";

pub const INSERT_REVISION: &str = "INSERT INTO revisions \
    (id, node_id, size, content_hash, media_type, client_modified, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const INSERT_REVISION_BLOCK: &str =
    "INSERT INTO revision_blocks (revision_id, position, block_hash) VALUES ($1, $2, $3)";
pub const GET_REVISION: &str = "SELECT id, node_id, size, content_hash, media_type, \
    client_modified, created_at FROM revisions WHERE id = $1";
pub const REVISION_BLOCKS: &str =
    "SELECT block_hash FROM revision_blocks WHERE revision_id = $1 ORDER BY position";
pub const REVISIONS_OF_NODE: &str = "SELECT id, node_id, size, content_hash, media_type, \
    client_modified, created_at FROM revisions WHERE node_id = $1 \
    ORDER BY created_at DESC, id DESC LIMIT $2";
pub const PRUNE_REVISIONS: &str = "DELETE FROM revisions WHERE id IN ( \
    SELECT r.id FROM revisions r WHERE r.created_at < $1 \
    AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.revision_id = r.id) LIMIT $2)";

pub const TOUCH_BLOCK: &str = "INSERT INTO blocks (hash, size, touched_at) VALUES ($1, $2, $3) \
    ON CONFLICT (hash) DO UPDATE SET touched_at = excluded.touched_at";
pub const TOUCH_EXISTING_BLOCK: &str = "UPDATE blocks SET touched_at = $2 WHERE hash = $1";
// The outer `touched_at` test is re-checked against a row a concurrent upload just touched
// (PostgreSQL re-evaluates it on the newest row version), so such a block is never taken.
pub const COLLECT_BLOCKS: &str = "DELETE FROM blocks WHERE touched_at < $1 AND hash IN ( \
    SELECT b.hash FROM blocks b WHERE b.touched_at < $1 \
    AND NOT EXISTS (SELECT 1 FROM revision_blocks rb WHERE rb.block_hash = b.hash) \
    AND NOT EXISTS (SELECT 1 FROM upload_blocks ub WHERE ub.block_hash = b.hash) LIMIT $2) \
    RETURNING hash";

// --- shared links ------------------------------------------------------------------------------

macro_rules! select_links {
    ($rest:literal) => {
        concat!(
            "SELECT id, token_digest, owner_id, namespace_id, node_id, password_hash, expires_at, \
             allow_download, created_at, revoked_at FROM shared_links ",
            $rest
        )
    };
}

pub const INSERT_LINK: &str = "INSERT INTO shared_links (id, token_digest, owner_id, \
    namespace_id, node_id, password_hash, expires_at, allow_download, created_at, revoked_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
pub const FIND_LINK_BY_DIGEST: &str = select_links!("WHERE token_digest = $1");
pub const GET_LINK: &str = select_links!("WHERE id = $1");
pub const LINKS_OF_OWNER: &str =
    select_links!("WHERE owner_id = $1 ORDER BY created_at DESC, id DESC");
/// Links to a namespace's content, to its mount points, and to folders above those.
pub const LINKS_INTO_NAMESPACE: &str = concat!(
    "WITH RECURSIVE reaching(id, parent_id) AS ( \
     SELECT id, parent_id FROM nodes WHERE mount_namespace_id = $1 \
     UNION SELECT n.id, n.parent_id FROM nodes n JOIN reaching r ON n.id = r.parent_id) ",
    select_links!(
        "WHERE namespace_id = $1 OR node_id IN (SELECT id FROM reaching) \
         ORDER BY created_at DESC, id DESC"
    )
);
pub const UPDATE_LINK: &str = "UPDATE shared_links SET revoked_at = $2 WHERE id = $1";
pub const REVOKE_LINKS_OF_OWNER: &str =
    "UPDATE shared_links SET revoked_at = $2 WHERE owner_id = $1 AND revoked_at IS NULL";

// --- change journal ----------------------------------------------------------------------------

pub const NEXT_CHANGE_SEQ: &str =
    "UPDATE namespaces SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq";
pub const INSERT_CHANGE: &str = "INSERT INTO changes (namespace_id, seq, node_id, path_before, \
    changed_at) VALUES ($1, $2, $3, $4, $5)";
pub const CHANGES_SINCE: &str = "SELECT namespace_id, seq, node_id, path_before, changed_at \
    FROM changes WHERE namespace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
pub const JOURNAL_POSITION: &str = "SELECT change_seq, journal_floor FROM namespaces WHERE id = $1";
pub const PRUNE_CHANGES: &str = "DELETE FROM changes WHERE changed_at < $1";
pub const RAISE_JOURNAL_FLOORS: &str = "UPDATE namespaces SET journal_floor = COALESCE( \
    (SELECT MIN(c.seq) - 1 FROM changes c WHERE c.namespace_id = namespaces.id), change_seq)";

// --- shared folders ----------------------------------------------------------------------------

macro_rules! member_columns {
    () => {
        "namespace_id, user_id, role, mount_node_id, joined_at"
    };
}

pub const INSERT_MEMBER: &str = concat!(
    "INSERT INTO shared_folder_members (",
    member_columns!(),
    ") VALUES ($1, $2, $3, $4, $5)"
);
pub const INSERT_INVITATION: &str = "INSERT INTO shared_folder_invitations \
    (id, namespace_id, email, role, invited_at) VALUES ($1, $2, $3, $4, $5)";
pub const INVITATIONS_OF_NAMESPACE: &str = "SELECT id, namespace_id, email, role, invited_at \
    FROM shared_folder_invitations WHERE namespace_id = $1 ORDER BY invited_at, id";
pub const SET_INVITATION_ROLE: &str =
    "UPDATE shared_folder_invitations SET role = $3 WHERE namespace_id = $1 AND id = $2";
pub const DELETE_INVITATION: &str =
    "DELETE FROM shared_folder_invitations WHERE namespace_id = $1 AND id = $2";
pub const TAKE_INVITATIONS_FOR: &str = "DELETE FROM shared_folder_invitations WHERE email = $1 \
    RETURNING id, namespace_id, email, role, invited_at";
pub const SET_MEMBER_ROLE: &str =
    "UPDATE shared_folder_members SET role = $3 WHERE namespace_id = $1 AND user_id = $2";
pub const DELETE_MEMBER: &str =
    "DELETE FROM shared_folder_members WHERE namespace_id = $1 AND user_id = $2";
pub const GET_MEMBER: &str = concat!(
    "SELECT ",
    member_columns!(),
    " FROM shared_folder_members WHERE namespace_id = $1 AND user_id = $2"
);
pub const MEMBERS_OF_USER: &str = concat!(
    "SELECT ",
    member_columns!(),
    " FROM shared_folder_members WHERE user_id = $1 ORDER BY joined_at, namespace_id"
);
pub const MEMBERS_OF_NAMESPACE: &str = concat!(
    "SELECT ",
    member_columns!(),
    " FROM shared_folder_members WHERE namespace_id = $1 \
      ORDER BY CASE WHEN role = 'owner' THEN 0 ELSE 1 END, joined_at, user_id"
);

// --- plugins -----------------------------------------------------------------------------------

macro_rules! plugin_columns {
    () => {
        "id, name, version, description, hooks, interface_version, digest, config, config_schema, \
         enabled, position, memory_bytes, time_ms, output_bytes, failure_policy, \
         consecutive_failures, disabled_reason, installed_at, updated_at"
    };
}

pub const INSERT_PLUGIN: &str = concat!(
    "INSERT INTO plugins (",
    plugin_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
);
pub const UPDATE_PLUGIN: &str = "UPDATE plugins SET name = $2, version = $3, description = $4, \
    hooks = $5, interface_version = $6, digest = $7, config = $8, config_schema = $9, \
    enabled = $10, position = $11, memory_bytes = $12, time_ms = $13, output_bytes = $14, \
    failure_policy = $15, consecutive_failures = $16, disabled_reason = $17, installed_at = $18, \
    updated_at = $19 WHERE id = $1";
pub const GET_PLUGIN: &str = concat!("SELECT ", plugin_columns!(), " FROM plugins WHERE id = $1");
pub const PLUGIN_BY_NAME: &str = concat!(
    "SELECT ",
    plugin_columns!(),
    " FROM plugins WHERE name = $1"
);
pub const LIST_PLUGINS: &str = concat!(
    "SELECT ",
    plugin_columns!(),
    " FROM plugins ORDER BY position, name"
);
pub const DELETE_PLUGIN: &str = "DELETE FROM plugins WHERE id = $1";
pub const STORE_COMPONENT: &str = "INSERT INTO plugin_components (digest, wasm, created_at) \
    VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING";
pub const GET_COMPONENT: &str = "SELECT wasm FROM plugin_components WHERE digest = $1";
pub const DELETE_UNUSED_COMPONENTS: &str = "DELETE FROM plugin_components \
    WHERE digest NOT IN (SELECT digest FROM plugins)";
pub const PLUGIN_GENERATION: &str = "SELECT generation FROM plugin_generation WHERE id = 1";
pub const BUMP_PLUGIN_GENERATION: &str =
    "UPDATE plugin_generation SET generation = generation + 1 WHERE id = 1 RETURNING generation";
pub const INSERT_AUDIT: &str = "INSERT INTO plugin_audit \
    (at, action, plugin_name, plugin_version, hook, actor, subject, reason, duration_us) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
macro_rules! audit_columns {
    () => {
        "id, at, action, plugin_name, plugin_version, hook, actor, subject, reason, duration_us"
    };
}
// `$1`: plugin name or NULL for all; `$2`: entries with a smaller id only; `$3`: limit.
pub const AUDIT_LOG: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM plugin_audit WHERE ($1 IS NULL OR plugin_name = $1) AND id < $2 ORDER BY id DESC LIMIT $3"
);

// --- upload sessions ---------------------------------------------------------------------------

pub const INSERT_UPLOAD: &str = "INSERT INTO upload_sessions (id, owner_id, kind, path, mode, \
    update_rev, autorename, client_modified, media_type, length, received, created_at, \
    expires_at, committed_node, committed_revision) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
pub const GET_UPLOAD: &str = "SELECT id, owner_id, kind, path, mode, update_rev, autorename, \
    client_modified, media_type, length, received, created_at, expires_at, committed_node, \
    committed_revision FROM upload_sessions WHERE id = $1";
pub const INSERT_UPLOAD_BLOCK: &str = "INSERT INTO upload_blocks \
    (upload_id, position, block_hash, size, present) VALUES ($1, $2, $3, $4, $5)";
pub const UPLOAD_BLOCKS: &str = "SELECT block_hash, size, present FROM upload_blocks \
    WHERE upload_id = $1 ORDER BY position";
// Moves the session only if no other append moved it first (PostgreSQL re-checks `received`
// on the newest row version after waiting for a concurrent update).
pub const ADVANCE_UPLOAD: &str =
    "UPDATE upload_sessions SET received = $3, expires_at = $4 WHERE id = $1 AND received = $2";
pub const TRUNCATE_UPLOAD_BLOCKS: &str =
    "DELETE FROM upload_blocks WHERE upload_id = $1 AND position >= $2";
pub const MARK_UPLOAD_BLOCK_PRESENT: &str =
    "UPDATE upload_blocks SET present = $3 WHERE upload_id = $1 AND block_hash = $2";
pub const REFRESH_UPLOAD: &str = "UPDATE upload_sessions SET expires_at = $2 WHERE id = $1";
pub const MARK_UPLOAD_COMMITTED: &str = "UPDATE upload_sessions SET committed_node = $2, \
    committed_revision = $3 WHERE id = $1";
pub const DELETE_UPLOAD_BLOCKS: &str = "DELETE FROM upload_blocks WHERE upload_id = $1";
pub const DELETE_UPLOAD: &str = "DELETE FROM upload_sessions WHERE id = $1";
pub const OPEN_UPLOAD_LENGTH: &str = "SELECT CAST(COALESCE(SUM(length), 0) AS BIGINT) \
    FROM upload_sessions WHERE owner_id = $1 AND committed_node IS NULL AND expires_at > $2";
pub const DELETE_EXPIRED_UPLOADS: &str = "DELETE FROM upload_sessions WHERE id IN ( \
    SELECT id FROM upload_sessions WHERE expires_at < $1 LIMIT $2)";
pub const BLOCK_IN_NAMESPACE: &str = "SELECT b.size FROM blocks b WHERE b.hash = $1 AND EXISTS ( \
    SELECT 1 FROM revision_blocks rb JOIN revisions r ON r.id = rb.revision_id \
    JOIN nodes n ON n.id = r.node_id WHERE rb.block_hash = $1 AND n.namespace_id = $2)";
