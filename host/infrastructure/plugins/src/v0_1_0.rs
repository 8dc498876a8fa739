//! Bindings of `coffer:plugin@0.1.0`: the host's imports for plugins built against it, and
//! calls of its hooks. A later interface version gets a module of its own beside this one, so
//! plugins built against 0.1.0 keep working.

use std::sync::Arc;

use coffer_domain::plugins::Hook;

use coffer_application::ports::{
    ActorFacts, PluginEvent, PolicyDecision, QuotaQuestion, ScanVerdict, SharingQuestion,
    UploadContentReader, UploadFacts,
};
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre, Linker, Resource};

use crate::state::{CallState, UploadContentHandle, escape_controls};

wasmtime::component::bindgen!({
    path: "../../../wit/v0.1.0",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: { "coffer:plugin/content.upload-content": crate::state::UploadContentHandle },
});

use coffer::plugin::{content, host, types};
use exports::coffer::plugin::{events, quota_policy, sharing_policy, upload_scanner};

/// The interface version of this module.
pub const VERSION: &str = "0.1.0";
/// Most bytes one `read` hands a plugin.
const MAX_READ: u32 = 1 << 20;

/// Adds this version's host imports to the linker.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    host::add_to_linker::<CallState, wasmtime::component::HasSelf<CallState>>(linker, |s| s)?;
    types::add_to_linker::<CallState, wasmtime::component::HasSelf<CallState>>(linker, |s| s)?;
    content::add_to_linker::<CallState, wasmtime::component::HasSelf<CallState>>(linker, |s| s)?;
    Ok(())
}

/// The exported hooks of one component, looked up once.
pub struct Hooks {
    pub scanner: Option<upload_scanner::GuestIndices>,
    pub sharing: Option<sharing_policy::GuestIndices>,
    pub quota: Option<quota_policy::GuestIndices>,
    pub events: Option<events::GuestIndices>,
}

impl Hooks {
    /// Finds the hooks `pre`'s component exports.
    pub fn find(pre: &InstancePre<CallState>) -> Self {
        Self {
            scanner: upload_scanner::GuestIndices::new(pre).ok(),
            sharing: sharing_policy::GuestIndices::new(pre).ok(),
            quota: quota_policy::GuestIndices::new(pre).ok(),
            events: events::GuestIndices::new(pre).ok(),
        }
    }

    /// Checks every function of every hook in `exported` against this version's WIT on an
    /// instance: an export with the right name and the wrong signature is refused here, at
    /// install, instead of failing every call.
    pub fn check(
        pre: &InstancePre<CallState>,
        store: &mut Store<CallState>,
        instance: &Instance,
        exported: &[Hook],
    ) -> Result<(), String> {
        let mismatch = |hook: Hook, err: String| {
            format!(
                "its export {} does not match coffer:plugin@{VERSION}: {err}",
                hook.as_str()
            )
        };
        for hook in exported {
            let checked = match hook {
                Hook::UploadScanner => upload_scanner::GuestIndices::new(pre)
                    .and_then(|i| i.load(&mut *store, instance).map(drop)),
                Hook::SharingPolicy => sharing_policy::GuestIndices::new(pre)
                    .and_then(|i| i.load(&mut *store, instance).map(drop)),
                Hook::QuotaPolicy => quota_policy::GuestIndices::new(pre)
                    .and_then(|i| i.load(&mut *store, instance).map(drop)),
                Hook::Events => events::GuestIndices::new(pre)
                    .and_then(|i| i.load(&mut *store, instance).map(drop)),
            };
            checked.map_err(|err| mismatch(*hook, format!("{err:#}")))?;
        }
        Ok(())
    }
}

impl types::Host for CallState {}

impl host::Host for CallState {
    async fn log(
        &mut self,
        level: host::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let level = match level {
            host::Level::Trace => "trace",
            host::Level::Debug => "debug",
            host::Level::Info => "info",
            host::Level::Warn => "warn",
            host::Level::Error => "error",
        };
        CallState::log(self, level, message, fields);
        Ok(())
    }

    async fn config(&mut self) -> wasmtime::Result<String> {
        Ok(self.config.clone())
    }
}

impl content::Host for CallState {}

impl content::HostUploadContent for CallState {
    async fn size(&mut self, _handle: Resource<UploadContentHandle>) -> wasmtime::Result<u64> {
        Ok(self.content.as_ref().map_or(0, |c| c.size()))
    }

    async fn read(
        &mut self,
        _handle: Resource<UploadContentHandle>,
        offset: u64,
        len: u32,
    ) -> wasmtime::Result<Vec<u8>> {
        let Some(content) = self.content.clone() else {
            return Ok(Vec::new());
        };
        if offset >= content.size() {
            return Ok(Vec::new());
        }
        // A storage failure traps the call: a scanner must never see a short read as the end.
        // It is the host's failure, not the plugin's.
        match content.read(offset, len.min(MAX_READ)).await {
            Ok(bytes) => Ok(bytes),
            Err(err) => {
                self.host_failure = Some(err.to_string());
                Err(err.into())
            }
        }
    }

    async fn drop(&mut self, handle: Resource<UploadContentHandle>) -> wasmtime::Result<()> {
        self.table().delete(handle)?;
        Ok(())
    }
}

fn actor(facts: &ActorFacts) -> types::Actor {
    types::Actor {
        user_id: facts.user_id.clone(),
        email: facts.email.clone(),
    }
}

fn role(editor: bool) -> types::Role {
    if editor {
        types::Role::Editor
    } else {
        types::Role::Viewer
    }
}

fn decision(decision: types::Decision) -> PolicyDecision {
    match decision {
        types::Decision::Allow => PolicyDecision::Allow,
        types::Decision::Deny(reason) => {
            PolicyDecision::Deny(escape_controls(&reason).into_owned())
        }
    }
}

/// Calls `scan` on a fresh instance.
pub async fn scan(
    store: &mut Store<CallState>,
    instance: &Instance,
    hooks: &Hooks,
    upload: &UploadFacts,
    content: Arc<dyn UploadContentReader>,
) -> wasmtime::Result<Option<ScanVerdict>> {
    let Some(indices) = &hooks.scanner else {
        return Ok(None);
    };
    let guest = indices.load(&mut *store, instance)?;
    store.data_mut().content = Some(content);
    let handle = store.data_mut().table().push(UploadContentHandle)?;
    let info = upload_scanner::UploadInfo {
        path: upload.path.clone(),
        size: upload.size,
        media_type: upload.media_type.clone(),
        content_hash: upload.content_hash.clone(),
        actor: actor(&upload.actor),
    };
    let borrowed = Resource::new_borrow(handle.rep());
    let verdict = guest.call_scan(&mut *store, &info, borrowed).await?;
    store.data_mut().table().delete(handle)?;
    Ok(Some(match verdict {
        upload_scanner::Verdict::Clean => ScanVerdict::Clean,
        upload_scanner::Verdict::Infected(name) => {
            ScanVerdict::Infected(escape_controls(&name).into_owned())
        }
    }))
}

/// Calls the sharing-policy function that answers `question`.
pub async fn check_sharing(
    store: &mut Store<CallState>,
    instance: &Instance,
    hooks: &Hooks,
    question: &SharingQuestion,
) -> wasmtime::Result<Option<PolicyDecision>> {
    let Some(indices) = &hooks.sharing else {
        return Ok(None);
    };
    let guest = indices.load(&mut *store, instance)?;
    let answer = match question {
        SharingQuestion::Share {
            actor: who,
            folder_path,
            member_email,
            editor,
        } => {
            let request = sharing_policy::ShareRequest {
                actor: actor(who),
                folder_path: folder_path.clone(),
                member_email: member_email.clone(),
                role: role(*editor),
            };
            guest.call_check_share(&mut *store, &request).await?
        }
        SharingQuestion::RoleChange {
            actor: who,
            folder_path,
            member_email,
            editor,
        } => {
            let request = sharing_policy::RoleChange {
                actor: actor(who),
                folder_path: folder_path.clone(),
                member_email: member_email.clone(),
                role: role(*editor),
            };
            guest.call_check_role_change(&mut *store, &request).await?
        }
        SharingQuestion::Link {
            actor: who,
            path,
            is_folder,
            expires_in_seconds,
            has_password,
            allow_download,
        } => {
            let request = sharing_policy::LinkRequest {
                actor: actor(who),
                path: path.clone(),
                is_folder: *is_folder,
                expires_in_seconds: *expires_in_seconds,
                has_password: *has_password,
                allow_download: *allow_download,
            };
            guest.call_check_link(&mut *store, &request).await?
        }
    };
    Ok(Some(decision(answer)))
}

/// Calls `quota`.
pub async fn quota(
    store: &mut Store<CallState>,
    instance: &Instance,
    hooks: &Hooks,
    user: &ActorFacts,
    server_quota: u64,
) -> wasmtime::Result<Option<Option<u64>>> {
    let Some(indices) = &hooks.quota else {
        return Ok(None);
    };
    let guest = indices.load(&mut *store, instance)?;
    Ok(Some(
        guest
            .call_quota(&mut *store, &actor(user), server_quota)
            .await?,
    ))
}

/// Calls `check-upload`.
pub async fn check_upload(
    store: &mut Store<CallState>,
    instance: &Instance,
    hooks: &Hooks,
    question: &QuotaQuestion,
) -> wasmtime::Result<Option<PolicyDecision>> {
    let Some(indices) = &hooks.quota else {
        return Ok(None);
    };
    let guest = indices.load(&mut *store, instance)?;
    let check = quota_policy::UploadCheck {
        actor: actor(&question.actor),
        owner: actor(&question.owner),
        path: question.path.clone(),
        size: question.size,
        used: question.used,
        quota: question.quota,
    };
    Ok(Some(decision(
        guest.call_check_upload(&mut *store, &check).await?,
    )))
}

/// Calls `on-event`.
pub async fn on_event(
    store: &mut Store<CallState>,
    instance: &Instance,
    hooks: &Hooks,
    event: &PluginEvent,
) -> wasmtime::Result<Option<()>> {
    let Some(indices) = &hooks.events else {
        return Ok(None);
    };
    let guest = indices.load(&mut *store, instance)?;
    use events::EventKind as K;
    let kind = match event.kind {
        "file-stored" => K::FileStored,
        "folder-created" => K::FolderCreated,
        "moved" => K::Moved,
        "deleted" => K::Deleted,
        "restored" => K::Restored,
        "folder-shared" => K::FolderShared,
        "member-added" => K::MemberAdded,
        "member-removed" => K::MemberRemoved,
        "folder-unshared" => K::FolderUnshared,
        "link-created" => K::LinkCreated,
        "link-revoked" => K::LinkRevoked,
        other => wasmtime::bail!("no event kind {other} in interface {VERSION}"),
    };
    let event = events::Event {
        kind,
        actor: actor(&event.actor),
        path: event.path.clone(),
        detail: event.detail.clone(),
        at_micros: event.at_micros,
    };
    guest.call_on_event(&mut *store, &event).await?;
    Ok(Some(()))
}
