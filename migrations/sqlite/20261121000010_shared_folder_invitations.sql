-- Invitations to shared folders for emails that have no account yet. Adding a member answers the
-- same way whether the email has an account or not (no account-enumeration oracle); an
-- invitation shows among the members under the id reserved for it and becomes a membership when
-- an account with that email is created. Timestamps: BIGINT microseconds since the epoch.
CREATE TABLE shared_folder_invitations (
    id           BLOB   PRIMARY KEY NOT NULL,
    namespace_id BLOB   NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    email        TEXT   NOT NULL,
    role         TEXT   NOT NULL CHECK (role IN ('editor', 'viewer')),
    invited_at   BIGINT NOT NULL,
    UNIQUE (namespace_id, email)
);
CREATE INDEX shared_folder_invitations_by_email ON shared_folder_invitations (email);
