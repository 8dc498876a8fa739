-- The change journal: every change to a namespace's tree gets the next sequence number of that
-- namespace, in the transaction that makes it. Sync clients' cursors are positions in it.
ALTER TABLE namespaces ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
-- Changes with seq <= journal_floor were pruned: cursors from before it must list again.
ALTER TABLE namespaces ADD COLUMN journal_floor BIGINT NOT NULL DEFAULT 0;

CREATE TABLE changes (
    namespace_id UUID    NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL,
    node_id      UUID    NOT NULL,
    path_before  TEXT,
    changed_at   BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, seq)
);
CREATE INDEX changes_by_age ON changes (changed_at);
