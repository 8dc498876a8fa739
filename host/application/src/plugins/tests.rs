//! Plugin administration and hooks against the fake runtime (no WebAssembly): order, first
//! denial wins, failure policies, automatic disabling, events in the background, audit.

use coffer_domain::account::SignupPolicy;
use coffer_domain::plugins::{AuditAction, Hook, Plugin};
use serde_json::json;

use super::{DryRunInput, Manifest, SettingsChange};
use crate::admin::Actor;
use crate::files::UploadMode;
use crate::testing::{FakePluginRuntime, TestEnv};
use crate::{AppError, Principal};

fn manifest(name: &str) -> Manifest {
    Manifest {
        name: name.into(),
        version: "1.0.0".into(),
        description: format!("the {name} plugin"),
        hooks: None,
        config_schema: None,
        config: None,
    }
}

async fn setup() -> (TestEnv, Principal, Principal) {
    let env = TestEnv::new(SignupPolicy::Open);
    let admin = env.admin("root@example.org").await;
    env.member("a@example.org").await;
    let user = env.principal("a@example.org").await;
    (env, admin, user)
}

async fn installed(
    env: &TestEnv,
    admin: &Principal,
    name: &str,
    hooks: &str,
    answer: &str,
) -> Plugin {
    let plugin = env
        .plugins
        .install(
            Actor::User(admin),
            manifest(name),
            FakePluginRuntime::component(hooks, answer),
        )
        .await
        .unwrap();
    env.plugins
        .set_enabled(Actor::User(admin), plugin.id, true)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_scanner_refuses_infected_uploads_until_it_is_disabled() {
    let (env, admin, user) = setup().await;
    let plugin = env
        .plugins
        .install(
            Actor::User(&admin),
            manifest("scanner"),
            FakePluginRuntime::component("upload-scanner", "infected:EICAR-Test-File"),
        )
        .await
        .unwrap();
    assert!(!plugin.enabled, "installed disabled");
    assert_eq!(plugin.hooks, [Hook::UploadScanner]);
    env.upload(&user, "/before.txt", b"x").await;

    env.plugins
        .set_enabled(Actor::User(&admin), plugin.id, true)
        .await
        .unwrap();
    let nodes = env.store.node_count();
    let err = env
        .upload_with(&user, "/eicar.com", b"X5O!P", crate::files::UploadMode::Add)
        .await
        .unwrap_err();
    match err {
        AppError::RefusedByPlugin { plugin, reason } => {
            assert_eq!(plugin, "scanner");
            assert_eq!(reason, "EICAR-Test-File found");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(env.store.node_count(), nodes, "nothing stored");
    let audit = env
        .plugins
        .audit_log(Actor::User(&admin), Some("scanner"), None, 10)
        .await
        .unwrap();
    let denial = audit
        .iter()
        .find(|e| e.action == AuditAction::Denied)
        .unwrap();
    assert_eq!(denial.hook, Some(Hook::UploadScanner));
    assert_eq!(denial.subject.as_deref(), Some("/eicar.com"));
    assert_eq!(denial.actor.as_deref(), Some("a@example.org"));

    env.plugins
        .set_enabled(Actor::User(&admin), plugin.id, false)
        .await
        .unwrap();
    env.upload(&user, "/eicar.com", b"X5O!P").await;
}

#[tokio::test]
async fn a_failing_guard_denies_by_default_allows_if_told_and_disables_itself() {
    let (env, admin, user) = setup().await;
    let plugin = installed(&env, &admin, "flaky", "upload-scanner", "fail:timeout").await;
    let err = env
        .upload_with(&user, "/a.txt", b"a", crate::files::UploadMode::Add)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::PluginFailed { .. }), "{err:?}");

    env.plugins
        .change_settings(
            Actor::User(&admin),
            plugin.id,
            SettingsChange {
                failure_policy: Some("allow".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // A change of its settings starts the count over.
    for i in 0..4 {
        env.upload(&user, &format!("/{i}.txt"), b"a").await;
    }
    assert!(
        env.plugins
            .get(Actor::User(&admin), plugin.id)
            .await
            .unwrap()
            .enabled,
        "four in a row"
    );
    env.upload(&user, "/fifth.txt", b"a").await;
    let plugin = env
        .plugins
        .get(Actor::User(&admin), plugin.id)
        .await
        .unwrap();
    assert!(!plugin.enabled, "five failures in a row disable it");
    assert!(
        plugin.disabled_reason.unwrap().contains("time limit"),
        "the reason names the last failure"
    );
    let audit = env
        .plugins
        .audit_log(Actor::User(&admin), None, None, 100)
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == AuditAction::AutoDisabled));
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == AuditAction::Failed)
            .count(),
        6
    );
    // Disabled: no longer called.
    let calls = env.plugin_runtime.calls().len();
    env.upload(&user, "/later.txt", b"a").await;
    assert_eq!(env.plugin_runtime.calls().len(), calls);
}

#[tokio::test]
async fn policies_run_in_order_and_the_first_denial_wins() {
    let (env, admin, user) = setup().await;
    let first = installed(&env, &admin, "first", "sharing-policy", "allow").await;
    let second = installed(
        &env,
        &admin,
        "second",
        "sharing-policy",
        "deny:links need a password",
    )
    .await;
    let link = |path: &str| crate::files::NewLink {
        path: path.into(),
        expires_at: None,
        password: None,
        allow_download: true,
    };
    env.upload(&user, "/doc.txt", b"d").await;
    let err = env
        .files
        .create_link(&user, link("/doc.txt"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::RefusedByPlugin { plugin, reason } if plugin == "second" && reason == "links need a password"),
        "{err:?}"
    );
    // The second moves first and denies before the first is asked.
    env.plugins
        .change_settings(
            Actor::User(&admin),
            second.id,
            SettingsChange {
                position: Some(-1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let before = env.plugin_runtime.calls().len();
    env.files
        .create_link(&user, link("/doc.txt"))
        .await
        .unwrap_err();
    let calls = env.plugin_runtime.calls();
    assert_eq!(calls.len(), before + 1, "{calls:?}");
    assert_eq!(calls.last().unwrap().0, "second@1.0.0");
    env.plugins
        .uninstall(Actor::User(&admin), second.id)
        .await
        .unwrap();
    env.files
        .create_link(&user, link("/doc.txt"))
        .await
        .unwrap();
    let _ = first;
}

#[tokio::test]
async fn events_arrive_in_the_background_and_a_failing_listener_changes_nothing() {
    let (env, admin, user) = setup().await;
    installed(&env, &admin, "listener", "events", "ok").await;
    installed(&env, &admin, "broken", "events", "fail:trap").await;
    env.upload(&user, "/Docs/a.txt", b"a").await;
    env.files
        .create_folder(&user, "/Docs/Sub", false, false)
        .await
        .unwrap();
    env.files.delete(&user, "/Docs/a.txt").await.unwrap();
    assert!(
        env.plugin_runtime.events().is_empty(),
        "nothing until the background runs"
    );
    env.background.run_all().await;
    let kinds: Vec<_> = env
        .plugin_runtime
        .events()
        .iter()
        .map(|e| (e.kind, e.path.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("file-stored", "/Docs/a.txt".to_owned()),
            ("folder-created", "/Docs/Sub".to_owned()),
            ("deleted", "/Docs/a.txt".to_owned())
        ]
    );
    assert!(
        env.plugin_runtime
            .events()
            .iter()
            .all(|e| e.actor.email == "a@example.org")
    );
}

#[tokio::test]
async fn quota_policies_set_quotas_and_may_refuse_uploads() {
    let (env, admin, user) = setup().await;
    let tiers = installed(&env, &admin, "tiers", "quota-policy", "quota:10").await;
    env.upload(&user, "/small.txt", b"12345").await;
    let err = env
        .upload_with(
            &user,
            "/big.txt",
            b"1234567890",
            crate::files::UploadMode::Add,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::QuotaExceeded { quota: 10, .. }),
        "{err:?}"
    );
    env.plugins
        .uninstall(Actor::User(&admin), tiers.id)
        .await
        .unwrap();
    installed(
        &env,
        &admin,
        "strict",
        "quota-policy",
        "deny:uploads are paused",
    )
    .await;
    let err = env
        .upload_with(&user, "/big.txt", b"1", crate::files::UploadMode::Add)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::RefusedByPlugin { .. }), "{err:?}");
}

#[tokio::test]
async fn quota_policies_are_asked_outside_write_transactions_once_per_plugin_set() {
    let (env, admin, owner) = setup().await;
    env.member("b@example.org").await;
    let member = env.principal("b@example.org").await;
    env.upload(&owner, "/Team/plan.txt", b"plan").await;
    let shared = env.files.share_folder(&owner, "/Team").await.unwrap();
    env.files
        .add_member(&owner, shared.id, "b@example.org", "editor")
        .await
        .unwrap();
    let tiers = installed(&env, &admin, "tiers", "quota-policy", "quota:100").await;
    let quota_calls = || {
        env.plugin_runtime
            .calls()
            .iter()
            .filter(|(_, function)| *function == "quota")
            .count()
    };

    // The account shows the plugin's quota, not the server's.
    assert_eq!(env.accounts.account(&owner).await.unwrap().quota.get(), 100);
    // The member's upload counts against the owner: both are asked before the write begins.
    env.upload(&member, "/Team/notes.txt", b"notes").await;
    env.upload(&owner, "/Team/more.txt", b"more").await;
    env.files
        .create_folder(&member, "/Team/Sub", false, false)
        .await
        .unwrap();
    assert_eq!(
        quota_calls(),
        2,
        "one answer per user while the plugin set stands"
    );
    assert_eq!(
        env.plugin_runtime.calls_in_writes(),
        [],
        "no quota plugin runs while a write transaction holds locks"
    );
    let err = env
        .upload_with(&member, "/Team/big.bin", &[0; 90], UploadMode::Add)
        .await
        .unwrap_err();
    // The plugin's 100 bytes hold (the server's quota is far larger); the member is told only
    // that the owner has no room.
    assert!(matches!(err, AppError::OwnerQuotaExceeded), "{err:?}");

    // Another configuration is another plugin set: its answers are asked anew.
    env.plugins
        .configure(Actor::User(&admin), tiers.id, json!({"changed": true}))
        .await
        .unwrap();
    env.upload(&owner, "/again.txt", b"1").await;
    assert_eq!(quota_calls(), 3);
    assert_eq!(env.plugin_runtime.calls_in_writes(), []);
}

#[tokio::test]
async fn installation_checks_names_hooks_and_configuration() {
    let (env, admin, user) = setup().await;
    let scanner = FakePluginRuntime::component("upload-scanner", "clean");
    let err = env
        .plugins
        .install(Actor::User(&user), manifest("x"), scanner.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden));
    let mut claims_more = manifest("x");
    claims_more.hooks = Some(vec!["upload-scanner".into(), "events".into()]);
    let err = env
        .plugins
        .install(Actor::User(&admin), claims_more, scanner.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Invalid { field: "hooks", .. }),
        "{err:?}"
    );
    let err = env
        .plugins
        .install(Actor::User(&admin), manifest("x"), b"garbage".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Invalid {
                field: "component",
                ..
            }
        ),
        "{err:?}"
    );

    let mut with_schema = manifest("policy");
    with_schema.config_schema = Some(json!({
        "type": "object",
        "properties": {"max_days": {"type": "integer", "minimum": 1}},
        "additionalProperties": false
    }));
    with_schema.config = Some(json!({"max_days": 7}));
    let plugin = env
        .plugins
        .install(Actor::User(&admin), with_schema, scanner.clone())
        .await
        .unwrap();
    let err = env
        .plugins
        .install(Actor::User(&admin), manifest("policy"), scanner)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(..)));
    let err = env
        .plugins
        .configure(Actor::User(&admin), plugin.id, json!({"max_days": 0}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Invalid {
                field: "config",
                ..
            }
        ),
        "{err:?}"
    );
    let configured = env
        .plugins
        .configure(Actor::User(&admin), plugin.id, json!({"max_days": 30}))
        .await
        .unwrap();
    assert_eq!(configured.config, r#"{"max_days":30}"#);

    let report = env
        .plugins
        .dry_run(
            Actor::User(&admin),
            plugin.id,
            DryRunInput::Scan {
                path: "/sample.bin".into(),
                content: b"sample".to_vec(),
            },
        )
        .await
        .unwrap();
    assert_eq!(report.decision, Ok("clean".into()));
    assert_eq!(report.logs.len(), 1);
    let audit = env
        .plugins
        .audit_log(Actor::User(&admin), Some("policy"), None, 10)
        .await
        .unwrap();
    let actions: Vec<_> = audit.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::DryRun,
            AuditAction::Configured,
            AuditAction::Installed
        ],
        "newest first; refused changes leave no entry"
    );
    assert_eq!(audit[2].actor.as_deref(), Some("root@example.org"));
}

async fn enabled_of(env: &TestEnv, admin: &Principal, plugin: &Plugin) -> Plugin {
    env.plugins
        .get(Actor::User(admin), plugin.id)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_guard_disabled_after_failures_keeps_refusing_until_an_administrator_acts() {
    let (env, admin, user) = setup().await;
    let plugin = installed(&env, &admin, "slow", "upload-scanner", "fail:timeout").await;
    for i in 0..5 {
        let err = env
            .upload_with(&user, &format!("/{i}.bin"), b"x", UploadMode::Add)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::PluginFailed { .. }), "{err:?}");
    }
    let disabled = enabled_of(&env, &admin, &plugin).await;
    assert!(!disabled.enabled, "five of its own failures disable it");
    let calls = env.plugin_runtime.calls().len();
    let nodes = env.store.node_count();
    let err = env
        .upload_with(&user, "/unscanned.bin", b"x", UploadMode::Add)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::PluginFailed { plugin } if plugin == "slow"),
        "a disabled scanner that denies on failure keeps refusing: {err:?}"
    );
    assert_eq!(
        env.plugin_runtime.calls().len(),
        calls,
        "without being called"
    );
    assert_eq!(env.store.node_count(), nodes, "nothing stored unscanned");

    // The administrator chooses: failing open for this plugin lets uploads through unscanned.
    env.plugins
        .change_settings(
            Actor::User(&admin),
            plugin.id,
            SettingsChange {
                failure_policy: Some("allow".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    env.upload(&user, "/open.bin", b"x").await;
}

#[tokio::test]
async fn failures_that_are_not_the_plugins_fault_never_disable_it() {
    let (env, admin, user) = setup().await;
    for (name, answer) in [("busy", "fail:busy"), ("host", "fail:host")] {
        let plugin = installed(&env, &admin, name, "upload-scanner", answer).await;
        for i in 0..(2 * coffer_domain::plugins::MAX_CONSECUTIVE_FAILURES) {
            let err = env
                .upload_with(&user, &format!("/{i}.bin"), b"x", UploadMode::Add)
                .await
                .unwrap_err();
            assert!(matches!(err, AppError::PluginFailed { .. }), "{err:?}");
        }
        let plugin = enabled_of(&env, &admin, &plugin).await;
        assert!(
            plugin.enabled,
            "{answer}: a busy or failing host is not the plugin's fault"
        );
        let audit = env
            .plugins
            .audit_log(Actor::User(&admin), Some(name), None, 100)
            .await
            .unwrap();
        assert!(audit.iter().all(|e| e.action != AuditAction::AutoDisabled));
        assert_eq!(
            audit
                .iter()
                .filter(|e| e.action == AuditAction::Failed)
                .count(),
            10,
            "{answer}: audited all the same"
        );
        env.plugins
            .uninstall(Actor::User(&admin), plugin.id)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn enabling_a_plugin_again_starts_its_failure_count_over() {
    let (env, admin, user) = setup().await;
    let plugin = installed(&env, &admin, "flaky", "upload-scanner", "fail:trap").await;
    env.plugins
        .change_settings(
            Actor::User(&admin),
            plugin.id,
            SettingsChange {
                failure_policy: Some("allow".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for i in 0..4 {
        env.upload(&user, &format!("/{i}.bin"), b"x").await;
    }
    for enabled in [false, true] {
        env.plugins
            .set_enabled(Actor::User(&admin), plugin.id, enabled)
            .await
            .unwrap();
    }
    env.upload(&user, "/after.bin", b"x").await;
    assert!(
        enabled_of(&env, &admin, &plugin).await.enabled,
        "one failure since it was enabled again"
    );
}

#[tokio::test]
async fn a_failing_quota_policy_is_asked_outside_transactions_and_not_by_every_request() {
    let (env, admin, user) = setup().await;
    installed(&env, &admin, "tiers", "quota-policy", "fail-quota").await;
    let quota_calls = || {
        env.plugin_runtime
            .calls()
            .iter()
            .filter(|(_, function)| *function == "quota")
            .count()
    };
    env.upload(&user, "/a.txt", b"a").await;
    assert_eq!(
        env.plugin_runtime.calls_in_writes(),
        [],
        "a failed answer is never asked again inside the write transaction"
    );
    assert_eq!(quota_calls(), 1);
    env.upload(&user, "/b.txt", b"b").await;
    env.accounts.account(&user).await.unwrap();
    assert_eq!(quota_calls(), 1, "the failure is remembered for a while");
    env.clock.advance(chrono::Duration::minutes(1));
    env.accounts.account(&user).await.unwrap();
    assert_eq!(quota_calls(), 2, "then asked again");
    assert_eq!(env.plugin_runtime.calls_in_writes(), []);
}

#[tokio::test]
async fn a_dry_run_holds_no_write_transaction_while_the_plugin_runs() {
    let (env, admin, _) = setup().await;
    let plugin = installed(&env, &admin, "slow", "upload-scanner", "fail:timeout").await;
    let report = env
        .plugins
        .dry_run(
            Actor::User(&admin),
            plugin.id,
            DryRunInput::Scan {
                path: "/sample.bin".into(),
                content: b"sample".to_vec(),
            },
        )
        .await
        .unwrap();
    assert_eq!(report.decision, Err(crate::ports::CallFailure::Timeout));
    assert_eq!(env.plugin_runtime.calls_in_writes(), []);
    let audit = env
        .plugins
        .audit_log(Actor::User(&admin), Some("slow"), None, 1)
        .await
        .unwrap();
    assert_eq!(
        audit[0].action,
        AuditAction::DryRun,
        "audited after the call"
    );
}

#[tokio::test]
async fn uninstalled_components_are_unloaded() {
    let (env, admin, _) = setup().await;
    let kept = installed(&env, &admin, "kept", "upload-scanner", "clean").await;
    let gone = installed(&env, &admin, "gone", "events", "ok").await;
    assert_eq!(env.plugin_runtime.loaded().len(), 2);
    env.plugins
        .uninstall(Actor::User(&admin), gone.id)
        .await
        .unwrap();
    assert_eq!(env.plugin_runtime.loaded(), [kept.digest]);
}

#[tokio::test]
async fn every_event_kind_reaches_event_plugins() {
    let (env, admin, user) = setup().await;
    let friend = env.member("b@example.org").await;
    installed(&env, &admin, "listener", "events", "ok").await;
    env.upload(&user, "/Team/a.txt", b"a").await;
    env.files
        .create_folder(&user, "/Docs", false, false)
        .await
        .unwrap();
    env.files
        .move_entry(&user, "/Team/a.txt", "/Docs/a.txt", false)
        .await
        .unwrap();
    let deleted = env.files.delete(&user, "/Docs/a.txt").await.unwrap();
    env.files
        .restore(&user, deleted.node.id, false)
        .await
        .unwrap();
    env.files
        .create_link(
            &user,
            crate::files::NewLink {
                path: "/Docs/a.txt".into(),
                expires_at: None,
                password: None,
                allow_download: true,
            },
        )
        .await
        .unwrap();
    let shared = env.files.share_folder(&user, "/Team").await.unwrap();
    env.files
        .add_member(&user, shared.id, "b@example.org", "viewer")
        .await
        .unwrap();
    env.files
        .remove_member(&user, shared.id, friend.id())
        .await
        .unwrap();
    env.files.unshare_folder(&user, shared.id).await.unwrap();
    env.background.run_all().await;
    let mut kinds: Vec<_> = env.plugin_runtime.events().iter().map(|e| e.kind).collect();
    kinds.sort();
    kinds.dedup();
    let mut expected = vec![
        "file-stored",
        "folder-created",
        "moved",
        "deleted",
        "restored",
        "folder-shared",
        "member-added",
        "member-removed",
        "folder-unshared",
        "link-created",
    ];
    expected.sort();
    assert_eq!(
        kinds, expected,
        "every kind but link-revoked (published by links)"
    );
}
