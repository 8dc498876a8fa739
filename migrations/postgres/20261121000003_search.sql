-- Name search: trigram index for substring matches (LIKE '%…%') on live nodes' name keys.
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX nodes_name_trigrams ON nodes USING gin (name_key gin_trgm_ops) WHERE trashed_at IS NULL;
