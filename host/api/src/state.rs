use axum::http::HeaderName;
use coffer_application::Readiness;
use coffer_application::accounts::Accounts;
use coffer_application::admin::Administration;
use coffer_application::files::Files;

/// Where the client's address comes from, for throttling and logs.
#[derive(Debug, Clone, Default)]
pub enum ClientAddressSource {
    /// The TCP peer (no proxy in front).
    #[default]
    Peer,
    /// The rightmost address in this header, as set by a trusted reverse proxy
    /// (e.g. `x-forwarded-for`); the peer if the header is missing.
    Header(HeaderName),
}

/// What every handler can reach: the use cases, and how to read the client address.
#[derive(Clone)]
pub struct ApiState {
    /// Account use cases.
    pub accounts: Accounts,
    /// Administration use cases.
    pub admin: Administration,
    /// File use cases.
    pub files: Files,
    /// Plugin administration.
    pub plugins: coffer_application::plugins::Plugins,
    /// Readiness check.
    pub readiness: Readiness,
    /// How to find the client's address.
    pub client_address: ClientAddressSource,
    /// Signs and checks change cursors.
    pub cursors: crate::CursorCodec,
    /// Issues and checks link passes (after a right link password).
    pub link_passes: crate::LinkPasses,
    /// Issues browser session cookies and checks their CSRF tokens.
    pub sessions: crate::SessionCookies,
}
