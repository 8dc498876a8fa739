-- Name search: SQLite scans this index (namespace, name key of live nodes) to match substrings,
-- reading only the index, already in result order.
CREATE INDEX nodes_search ON nodes (namespace_id, name_key) WHERE trashed_at IS NULL;
