//! Plugin administration (administrators only): install a component with its manifest, list,
//! inspect, configure, enable, disable, reorder, set limits, uninstall, dry runs, audit log.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use coffer_application::admin::Actor;
use coffer_application::plugins::{DryRunInput, Manifest, SettingsChange};
use coffer_application::ports::{ActorFacts, QuotaQuestion, SharingQuestion};
use coffer_domain::plugins::{AuditEntry, Plugin, PluginId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiMultipart, ApiPath, ApiQuery, Caller, PageLimit};
use crate::problem::{ApiError, ErrorCode, Problem};
use crate::state::ApiState;

/// Largest install request (component plus manifest).
const MAX_INSTALL_BYTES: usize = 33 << 20;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(install_plugin, list_plugins))
        .layer(DefaultBodyLimit::max(MAX_INSTALL_BYTES))
        .routes(routes!(get_plugin, update_plugin, uninstall_plugin))
        .routes(routes!(configure_plugin))
        .routes(routes!(enable_plugin))
        .routes(routes!(disable_plugin))
        .routes(routes!(dry_run))
        .routes(routes!(audit_log))
}

/// An installed plugin.
#[derive(Serialize, ToSchema)]
pub struct PluginResponse {
    /// Its id.
    id: Uuid,
    /// Its unique name.
    name: String,
    /// Its version.
    version: String,
    /// What it does.
    description: String,
    /// The hooks its component exports.
    hooks: Vec<String>,
    /// The `coffer:plugin` version it was built against.
    interface_version: String,
    /// SHA-256 of its component.
    sha256: String,
    /// Its configuration.
    #[schema(value_type = Object)]
    config: serde_json::Value,
    /// The JSON Schema its configuration must satisfy, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    config_schema: Option<serde_json::Value>,
    /// Whether it runs.
    enabled: bool,
    /// Why it was disabled automatically, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<String>,
    /// Order among the plugins of a hook (lower first).
    position: i64,
    /// Most memory a call may use, in bytes.
    memory_bytes: u64,
    /// Longest a call may run, in milliseconds.
    time_ms: u64,
    /// Most bytes of output (reasons, logs) per call.
    output_bytes: u32,
    /// What a failed call decides: `deny` or `allow`. A `deny` plugin disabled automatically
    /// (`disabled_reason` set) keeps refusing its hook until an administrator enables or
    /// disables it, or sets `allow`.
    failure_policy: String,
    /// When it was installed.
    installed_at: DateTime<Utc>,
    /// When its settings last changed.
    updated_at: DateTime<Utc>,
}

impl From<Plugin> for PluginResponse {
    fn from(plugin: Plugin) -> Self {
        Self {
            id: plugin.id.as_uuid(),
            name: plugin.name.to_string(),
            version: plugin.version.to_string(),
            description: plugin.description,
            hooks: plugin.hooks.iter().map(|h| h.as_str().to_owned()).collect(),
            interface_version: plugin.interface_version,
            sha256: plugin.digest,
            config: serde_json::from_str(&plugin.config).unwrap_or_default(),
            config_schema: plugin
                .config_schema
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            enabled: plugin.enabled,
            disabled_reason: plugin.disabled_reason,
            position: plugin.position,
            memory_bytes: plugin.limits.memory_bytes(),
            time_ms: plugin.limits.time().as_millis() as u64,
            output_bytes: plugin.limits.output_bytes(),
            failure_policy: plugin.failure_policy.as_str().into(),
            installed_at: plugin.installed_at,
            updated_at: plugin.updated_at,
        }
    }
}

/// The installed plugins.
#[derive(Serialize, ToSchema)]
pub struct PluginList {
    /// In running order.
    plugins: Vec<PluginResponse>,
}

/// The manifest part of an install.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestDocument {
    /// Unique name: 1 to 64 of a-z, 0-9, '-', starting with a letter.
    name: String,
    /// `MAJOR.MINOR.PATCH`.
    version: String,
    /// What it does.
    #[serde(default)]
    description: String,
    /// The hooks it implements (checked against the component's exports), if given.
    hooks: Option<Vec<String>>,
    /// A JSON Schema for its configuration.
    #[schema(value_type = Option<Object>)]
    config_schema: Option<serde_json::Value>,
    /// Its initial configuration (default `{}`).
    #[schema(value_type = Option<Object>)]
    config: Option<serde_json::Value>,
}

/// Reads a plugin manifest (`plugin.json`): the document an install carries, over HTTP or at
/// the command line. The error says what is wrong with it.
pub fn parse_manifest(text: &[u8]) -> Result<Manifest, String> {
    let document: ManifestDocument =
        serde_json::from_slice(text).map_err(|e| format!("manifest is not valid: {e}"))?;
    Ok(Manifest {
        name: document.name,
        version: document.version,
        description: document.description,
        hooks: document.hooks,
        config_schema: document.config_schema,
        config: document.config,
    })
}

/// An install: `manifest` (JSON) and `component` (the `.wasm` file).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InstallForm {
    /// The manifest, as JSON.
    manifest: ManifestDocument,
    /// The WebAssembly component.
    #[schema(value_type = String, format = Binary)]
    component: Vec<u8>,
}

fn bad_form(reason: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed, reason.into())
}

/// A form that cannot be read: too large (413, like any body over its limit) or malformed.
fn unreadable_form(what: &str, err: axum::extract::multipart::MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("an install may be at most {} MiB", MAX_INSTALL_BYTES >> 20),
        );
    }
    bad_form(format!("{what}: {err}"))
}

/// Install a plugin (disabled until enabled): `multipart/form-data` with a `manifest` part (JSON)
/// and a `component` part (the `.wasm` component).
#[utoipa::path(
    post, path = "/admin/plugins", tag = "plugins",
    security(("bearer" = [])),
    request_body(content = InstallForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Installed (disabled)", body = PluginResponse),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A plugin with this name is installed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The component is larger than 32 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad manifest, configuration, or component (not a component, another interface version, no hook, a hook whose signature does not match the WIT)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `multipart/form-data` with a boundary", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn install_plugin(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiMultipart(mut form): ApiMultipart,
) -> Result<(StatusCode, Json<PluginResponse>), ApiError> {
    caller.require_admin()?;
    let (mut manifest, mut component) = (None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| unreadable_form("the form is malformed", e))?
    {
        match field.name() {
            Some("manifest") => {
                let text = field
                    .bytes()
                    .await
                    .map_err(|e| unreadable_form("manifest", e))?;
                manifest = Some(parse_manifest(&text).map_err(bad_form)?);
            }
            Some("component") => {
                component = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| unreadable_form("component", e))?
                        .to_vec(),
                );
            }
            _ => {}
        }
    }
    let manifest = manifest.ok_or_else(|| bad_form("the form has no `manifest` part"))?;
    let component = component.ok_or_else(|| bad_form("the form has no `component` part"))?;
    let plugin = state
        .plugins
        .install(Actor::User(&caller), manifest, component)
        .await?;
    Ok((StatusCode::CREATED, Json(plugin.into())))
}

/// List the installed plugins in running order.
#[utoipa::path(
    get, path = "/admin/plugins", tag = "plugins",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plugins", body = PluginList),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_plugins(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<PluginList>, ApiError> {
    let plugins = state.plugins.list(Actor::User(&caller)).await?;
    Ok(Json(PluginList {
        plugins: plugins.into_iter().map(Into::into).collect(),
    }))
}

/// One plugin.
#[utoipa::path(
    get, path = "/admin/plugins/{id}", tag = "plugins",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The plugin's id")),
    responses(
        (status = 200, description = "The plugin", body = PluginResponse),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_plugin(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PluginResponse>, ApiError> {
    let plugin = state
        .plugins
        .get(Actor::User(&caller), PluginId::from_uuid(id))
        .await?;
    Ok(Json(plugin.into()))
}

/// Running settings to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginSettingsRequest {
    /// Position in the running order (lower first).
    position: Option<i64>,
    /// Memory limit per call, 1 MiB to 256 MiB.
    memory_bytes: Option<u64>,
    /// Time limit per call, 1 ms to 10 minutes.
    time_ms: Option<u64>,
    /// Output limit per call, 1 KiB to 16 MiB.
    output_bytes: Option<u32>,
    /// `deny` or `allow`: what a failed call decides, and whether the plugin keeps refusing
    /// (`deny`) or lets requests through (`allow`) once it was disabled automatically.
    failure_policy: Option<String>,
}

/// Change a plugin's order, limits or failure policy.
#[utoipa::path(
    patch, path = "/admin/plugins/{id}", tag = "plugins",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The plugin's id")),
    request_body = PluginSettingsRequest,
    responses(
        (status = 200, description = "Changed", body = PluginResponse),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A limit out of bounds, or a bad failure policy", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn update_plugin(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PluginSettingsRequest>,
) -> Result<Json<PluginResponse>, ApiError> {
    let plugin = state
        .plugins
        .change_settings(
            Actor::User(&caller),
            PluginId::from_uuid(id),
            SettingsChange {
                position: body.position,
                memory_bytes: body.memory_bytes,
                time_ms: body.time_ms,
                output_bytes: body.output_bytes,
                failure_policy: body.failure_policy,
            },
        )
        .await?;
    Ok(Json(plugin.into()))
}

/// Uninstall a plugin.
#[utoipa::path(
    delete, path = "/admin/plugins/{id}", tag = "plugins",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The plugin's id")),
    responses(
        (status = 204, description = "Uninstalled"),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn uninstall_plugin(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .plugins
        .uninstall(Actor::User(&caller), PluginId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a plugin's configuration (the body is the configuration document, checked against
/// the plugin's schema).
#[utoipa::path(
    put, path = "/admin/plugins/{id}/config", tag = "plugins",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The plugin's id")),
    request_body(content = Object, description = "The configuration"),
    responses(
        (status = 200, description = "Configured", body = PluginResponse),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The configuration does not fit the schema", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn configure_plugin(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(config): ApiJson<serde_json::Value>,
) -> Result<Json<PluginResponse>, ApiError> {
    let plugin = state
        .plugins
        .configure(Actor::User(&caller), PluginId::from_uuid(id), config)
        .await?;
    Ok(Json(plugin.into()))
}

/// Enable a plugin: it runs on every instance within seconds.
#[utoipa::path(
    post, path = "/admin/plugins/{id}/enable", tag = "plugins",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The plugin's id")),
    responses(
        (status = 200, description = "Enabled", body = PluginResponse),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn enable_plugin(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PluginResponse>, ApiError> {
    let plugin = state
        .plugins
        .set_enabled(Actor::User(&caller), PluginId::from_uuid(id), true)
        .await?;
    Ok(Json(plugin.into()))
}

/// Disable a plugin.
#[utoipa::path(
    post, path = "/admin/plugins/{id}/disable", tag = "plugins",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The plugin's id")),
    responses(
        (status = 200, description = "Disabled", body = PluginResponse),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn disable_plugin(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PluginResponse>, ApiError> {
    let plugin = state
        .plugins
        .set_enabled(Actor::User(&caller), PluginId::from_uuid(id), false)
        .await?;
    Ok(Json(plugin.into()))
}

/// A sample to try a plugin on (the caller acts as the user).
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DryRunRequest {
    /// Scan content (base64) as an upload to `path`.
    Scan {
        /// Where the sample would be stored.
        path: String,
        /// The content, base64.
        content_base64: String,
    },
    /// Ask about a link.
    Link {
        /// What it would link to.
        path: String,
        /// Whether that is a folder.
        #[serde(default)]
        is_folder: bool,
        /// Seconds until it would expire.
        expires_in_seconds: Option<u64>,
        /// Whether it would have a password.
        #[serde(default)]
        has_password: bool,
        /// Whether it would allow downloads.
        #[serde(default = "yes")]
        allow_download: bool,
    },
    /// Ask about a new member of a shared folder.
    Share {
        /// The folder.
        folder_path: String,
        /// The member.
        member_email: String,
        /// `editor` or `viewer`.
        role: String,
    },
    /// Ask for the caller's quota.
    Quota {
        /// What the server would apply.
        server_quota: u64,
    },
    /// Ask about an upload.
    CheckUpload {
        /// Where it would go.
        path: String,
        /// Bytes it adds.
        size: u64,
        /// Bytes in use.
        used: u64,
        /// The quota.
        quota: u64,
    },
}

fn yes() -> bool {
    true
}

/// What a dry run found.
#[derive(Serialize, ToSchema)]
pub struct DryRunResponse {
    /// The answer (`allow`, `deny: …`, `clean`, `infected: …`, `quota: …`), if there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<String>,
    /// Why there was none (trap, timeout, memory, output).
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<String>,
    /// What the plugin logged: `[level, message]`.
    logs: Vec<(String, String)>,
    /// How long the call took, in microseconds.
    duration_us: u64,
}

/// Call a plugin (enabled or not) on a sample: its decision, logs and duration.
#[utoipa::path(
    post, path = "/admin/plugins/{id}/dry-run", tag = "plugins",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The plugin's id")),
    request_body = DryRunRequest,
    responses(
        (status = 200, description = "What the plugin did", body = DryRunResponse),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn dry_run(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<DryRunRequest>,
) -> Result<Json<DryRunResponse>, ApiError> {
    let actor = ActorFacts {
        user_id: caller.user_id.to_string(),
        email: String::new(),
    };
    let input = match body {
        DryRunRequest::Scan {
            path,
            content_base64,
        } => DryRunInput::Scan {
            path,
            content: STANDARD.decode(content_base64.trim()).map_err(|_| {
                bad_form("content_base64 is not base64").with_field("content_base64")
            })?,
        },
        DryRunRequest::Link {
            path,
            is_folder,
            expires_in_seconds,
            has_password,
            allow_download,
        } => DryRunInput::Sharing(SharingQuestion::Link {
            actor,
            path,
            is_folder,
            expires_in_seconds,
            has_password,
            allow_download,
        }),
        DryRunRequest::Share {
            folder_path,
            member_email,
            role,
        } => DryRunInput::Sharing(SharingQuestion::Share {
            actor,
            folder_path,
            member_email,
            editor: role == "editor",
        }),
        DryRunRequest::Quota { server_quota } => DryRunInput::Quota {
            user: actor,
            server_quota,
        },
        DryRunRequest::CheckUpload {
            path,
            size,
            used,
            quota,
        } => DryRunInput::CheckUpload(QuotaQuestion {
            actor: actor.clone(),
            owner: actor,
            path,
            size,
            used,
            quota,
        }),
    };
    let report = state
        .plugins
        .dry_run(Actor::User(&caller), PluginId::from_uuid(id), input)
        .await?;
    Ok(Json(DryRunResponse {
        decision: report.decision.as_ref().ok().cloned(),
        failure: report.decision.as_ref().err().map(|f| f.to_string()),
        logs: report
            .logs
            .into_iter()
            .map(|l| (l.level, l.message))
            .collect(),
        duration_us: report.duration.as_micros() as u64,
    }))
}

/// Which audit entries.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this plugin's (by name).
    plugin: Option<String>,
    /// Only entries older than this one (`next_before` of the previous page).
    before: Option<u64>,
    /// Page size, 1 to 500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<PageLimit<500>>,
}

/// One audit entry.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryResponse {
    /// Its position in the log.
    id: u64,
    /// When.
    at: DateTime<Utc>,
    /// `denied`, `failed`, `auto_disabled`, `installed`, `configured`, `enabled`, `disabled`,
    /// `settings_changed`, `uninstalled`, `dry_run`.
    action: String,
    /// The plugin.
    plugin: String,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// The hook, for calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<String>,
    /// Who acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
    /// What it was about.
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// How long the call took, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_us: Option<u64>,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id.unwrap_or_default(),
            at: entry.at,
            action: entry.action.as_str().into(),
            plugin: entry.plugin,
            version: entry.version,
            hook: entry.hook.map(|h| h.as_str().into()),
            actor: entry.actor,
            subject: entry.subject,
            reason: entry.reason,
            duration_us: entry.duration.map(|d| d.as_micros() as u64),
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    entries: Vec<AuditEntryResponse>,
    /// Pass as `before` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<u64>,
}

/// The plugin audit log: every denial, failed call, automatic disabling and administrator
/// action, newest first.
#[utoipa::path(
    get, path = "/admin/plugins/audit", tag = "plugins",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the log", body = AuditPage),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn audit_log(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = PageLimit::or(query.limit, 100);
    let entries = state
        .plugins
        .audit_log(
            Actor::User(&caller),
            query.plugin.as_deref(),
            query.before,
            limit,
        )
        .await?;
    let full = entries.len() as u32 == limit;
    let next_before = full.then(|| entries.last().and_then(|e| e.id)).flatten();
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(Into::into).collect(),
        next_before,
    }))
}
