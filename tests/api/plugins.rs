//! Plugins over HTTP, on both stacks, with real components: an administrator installs and
//! enables the EICAR scanner, which refuses an EICAR upload (nothing stored) until it is
//! disabled; hostile plugins cost at most their request and the failure policy decides; every
//! denial and administrator action is in the audit log.

use std::time::{Duration, Instant};

use coffer_plugins::testing::plugin_wasm;
use coffer_tests::{Backend, TestApp, assert_problem, on_both_backends};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    the_scanner_refuses_eicar_until_disabled_and_the_audit_log_says_so,
    hostile_plugins_cost_at_most_their_request_and_the_failure_policy_decides,
    installation_is_for_administrators_and_checks_what_it_is_given,
    a_scanner_written_in_python_refuses_executables_until_disabled,
    guest_code_leaves_the_request_threads_free,
);

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

async fn install(app: &TestApp, token: &str, manifest: Value, wasm: Vec<u8>) -> reqwest::Response {
    let form = Form::new()
        .part("manifest", Part::text(manifest.to_string()))
        .part(
            "component",
            Part::bytes(wasm)
                .file_name("plugin.wasm")
                .mime_str("application/wasm")
                .unwrap(),
        );
    app.request(Method::POST, "/api/v1/admin/plugins")
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Installs and enables a plugin crate of `plugins/`; returns its id.
async fn enabled(app: &TestApp, admin: &str, name: &str, config: Value) -> String {
    let response = install(
        app,
        admin,
        json!({"name": name, "version": "0.1.0", "description": "test", "config": config}),
        plugin_wasm(name),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let plugin: Value = response.json().await.unwrap();
    assert_eq!(plugin["enabled"], false);
    let id = plugin["id"].as_str().unwrap().to_owned();
    let response = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/plugins/{id}/enable"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    id
}

async fn a_scanner_written_in_python_refuses_executables_until_disabled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, user) = admin_and_user(&app).await;
    // Installed as an administrator would: the manifest from the plugin's folder.
    let manifest: Value =
        serde_json::from_str(include_str!("../../plugins/magic-guard/plugin.json")).unwrap();
    let response = install(&app, &admin, manifest, plugin_wasm("magic-guard")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let plugin: Value = response.json().await.unwrap();
    assert_eq!(plugin["hooks"], json!(["upload-scanner"]));
    let id = plugin["id"].as_str().unwrap().to_owned();
    let enable = |on: bool| {
        let path = format!(
            "/api/v1/admin/plugins/{id}/{}",
            if on { "enable" } else { "disable" }
        );
        let (app, admin) = (&app, &admin);
        async move {
            let response = app.call(Method::POST, &path, Some(admin), None).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    enable(true).await;

    let mut renamed_exe = b"MZ\x90\x00".to_vec();
    renamed_exe.resize(300_000, 7);
    let refused = app
        .put(&user, "path=/holiday.jpg", renamed_exe.clone())
        .await;
    let problem = assert_problem(refused, StatusCode::FORBIDDEN, "refused_by_plugin").await;
    assert_eq!(problem["plugin"], "magic-guard");
    assert_eq!(problem["detail"], "Windows executable found");
    let gone = app
        .call(
            Method::GET,
            "/api/v1/files/metadata?path=/holiday.jpg",
            Some(&user),
            None,
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "nothing stored");
    app.upload(&user, "/notes.txt", b"an MZ past the start is fine")
        .await;

    // Its configuration is checked against the schema in its manifest.
    let bad = app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/plugins/{id}/config"),
            Some(&admin),
            Some(json!({"block": ["floppy-disk"]})),
        )
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let elf_only = app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/plugins/{id}/config"),
            Some(&admin),
            Some(json!({"block": ["elf"]})),
        )
        .await;
    assert_eq!(elf_only.status(), StatusCode::OK);
    let elf = app
        .put(&user, "path=/tool", b"\x7fELF\x02\x01".to_vec())
        .await;
    assert_problem(elf, StatusCode::FORBIDDEN, "refused_by_plugin").await;
    app.upload(&user, "/holiday.jpg", &renamed_exe).await;

    enable(false).await;
    app.upload(&user, "/tool", b"\x7fELF\x02\x01").await;
}

async fn admin_and_user(app: &TestApp) -> (String, String) {
    let (_, admin) = app.user("root@example.org").await;
    let (_, user) = app.user("user@example.org").await;
    (admin, user)
}

async fn the_scanner_refuses_eicar_until_disabled_and_the_audit_log_says_so(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, user) = admin_and_user(&app).await;
    let id = enabled(&app, &admin, "eicar-scanner", json!({})).await;

    let mut infected = b"some text before ".to_vec();
    infected.extend_from_slice(EICAR);
    let refused = app.put(&user, "path=/eicar.txt", infected.clone()).await;
    let problem = assert_problem(refused, StatusCode::FORBIDDEN, "refused_by_plugin").await;
    assert_eq!(problem["plugin"], "eicar-scanner");
    assert_eq!(problem["detail"], "EICAR-Test-File found");
    let gone = app
        .call(
            Method::GET,
            "/api/v1/files/metadata?path=/eicar.txt",
            Some(&user),
            None,
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "nothing stored");
    assert_eq!(
        app.get_json(&user, "/api/v1/account").await["used_bytes"],
        0
    );
    app.upload(&user, "/clean.txt", b"nothing to see").await;

    let response = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/plugins/{id}/disable"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.upload(&user, "/eicar.txt", &infected).await;

    let log = app
        .get_json(&admin, "/api/v1/admin/plugins/audit?plugin=eicar-scanner")
        .await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["disabled", "denied", "enabled", "installed"]);
    let denial = &log["entries"][1];
    assert_eq!(denial["hook"], "upload-scanner");
    assert_eq!(denial["subject"], "/eicar.txt");
    assert_eq!(denial["actor"], "user@example.org");
    assert_eq!(denial["reason"], "EICAR-Test-File found");
    assert_eq!(denial["version"], "0.1.0");
    assert!(denial["duration_us"].as_u64().unwrap() > 0);
    assert_eq!(log["entries"][0]["actor"], "root@example.org");

    // A dry run answers without storing anything.
    let report = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/plugins/{id}/dry-run"),
            Some(&admin),
            Some(json!({
                "kind": "scan",
                "path": "/sample.com",
                "content_base64": base64_of(EICAR),
            })),
        )
        .await;
    assert_eq!(report.status(), StatusCode::OK);
    let report: Value = report.json().await.unwrap();
    assert_eq!(report["decision"], "infected: EICAR-Test-File");
    assert!(
        report["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l[1] == "signature found"),
        "{report}"
    );
}

fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn hostile_plugins_cost_at_most_their_request_and_the_failure_policy_decides(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (admin, user) = admin_and_user(&app).await;
    let id = enabled(&app, &admin, "hostile", json!("loop")).await;
    let plugin_path = format!("/api/v1/admin/plugins/{id}");
    let settings = |body: Value| app.call(Method::PATCH, &plugin_path, Some(&admin), Some(body));
    assert_eq!(
        settings(json!({"time_ms": 200, "memory_bytes": 16 << 20}))
            .await
            .status(),
        StatusCode::OK
    );

    // An infinite loop: the upload is refused (the default policy denies) within its limit.
    let started = Instant::now();
    let refused = app.put(&user, "path=/a.txt", b"a".to_vec()).await;
    let problem = assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "plugin_failed").await;
    assert_eq!(problem["plugin"], "hostile");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        app.call(Method::GET, "/healthz", None, None).await.status(),
        StatusCode::OK,
        "the server keeps serving"
    );

    // A memory bomb, and the policy set to allow: the upload goes through.
    let configured = app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/plugins/{id}/config"),
            Some(&admin),
            Some(json!("memory")),
        )
        .await;
    assert_eq!(configured.status(), StatusCode::OK);
    assert_eq!(
        settings(json!({"failure_policy": "allow"})).await.status(),
        StatusCode::OK
    );
    app.upload(&user, "/b.txt", b"b").await;
    // Four more failures make five in a row since its last change: it disables itself.
    for name in ["/c.txt", "/d.txt", "/e.txt", "/e2.txt"] {
        app.upload(&user, name, b"x").await;
    }
    let plugin = app
        .get_json(&admin, &format!("/api/v1/admin/plugins/{id}"))
        .await;
    assert_eq!(plugin["enabled"], false, "{plugin}");
    assert!(
        plugin["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("memory limit"),
        "{plugin}"
    );
    let log = app
        .get_json(&admin, "/api/v1/admin/plugins/audit?plugin=hostile&limit=3")
        .await;
    assert_eq!(log["entries"][0]["action"], "auto_disabled");
    assert_eq!(log["entries"][1]["action"], "failed");
    assert!(log["next_before"].as_u64().is_some(), "more pages");

    // Failing open was the administrator's choice; with `deny`, the disabled scanner refuses
    // uploads instead of letting them through unscanned.
    assert_eq!(
        settings(json!({"failure_policy": "deny"})).await.status(),
        StatusCode::OK
    );
    let refused = app.put(&user, "path=/f.txt", b"f".to_vec()).await;
    let problem = assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "plugin_failed").await;
    assert_eq!(problem["plugin"], "hostile");
}

async fn guest_code_leaves_the_request_threads_free(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, user) = admin_and_user(&app).await;
    let id = enabled(&app, &admin, "hostile", json!("loop")).await;
    let changed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/plugins/{id}"),
            Some(&admin),
            Some(json!({"time_ms": 3000, "memory_bytes": 16 << 20})),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    // Two uploads whose scanner computes for 3 s each...
    let scans: Vec<_> = (0..2)
        .map(|i| {
            let request = app
                .request(Method::PUT, &format!("/api/v1/files/content?path=/{i}.txt"))
                .bearer_auth(&user)
                .body(b"x".to_vec());
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...while the server answers others at once.
    let started = Instant::now();
    let health = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    for scan in scans {
        assert_eq!(scan.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

async fn installation_is_for_administrators_and_checks_what_it_is_given(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, user) = admin_and_user(&app).await;
    let manifest = json!({"name": "scanner", "version": "1.0.0"});
    let forbidden = install(&app, &user, manifest.clone(), plugin_wasm("eicar-scanner")).await;
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
    let not_a_component =
        install(&app, &admin, manifest.clone(), b"\0asm\x01\0\0\0".to_vec()).await;
    let problem = assert_problem(
        not_a_component,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["field"], "component");
    let wrong_hooks = install(
        &app,
        &admin,
        json!({"name": "scanner", "version": "1.0.0", "hooks": ["events"]}),
        plugin_wasm("eicar-scanner"),
    )
    .await;
    assert_problem(
        wrong_hooks,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let bad_name = install(
        &app,
        &admin,
        json!({"name": "Bad Name", "version": "1.0.0"}),
        plugin_wasm("eicar-scanner"),
    )
    .await;
    assert_problem(
        bad_name,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // An export with the right name and the wrong signature is refused at install.
    let mismatched = install(&app, &admin, manifest.clone(), plugin_wasm("mismatched")).await;
    let problem = assert_problem(
        mismatched,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["field"], "component");
    // A component over the size limit is too large, not a malformed form.
    let oversize = install(&app, &admin, manifest.clone(), vec![0; 34 << 20]).await;
    assert_problem(oversize, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let installed = install(&app, &admin, manifest.clone(), plugin_wasm("eicar-scanner")).await;
    assert_eq!(installed.status(), StatusCode::CREATED);
    let plugin: Value = installed.json().await.unwrap();
    assert_eq!(plugin["hooks"], json!(["upload-scanner"]));
    assert_eq!(plugin["interface_version"], "0.1.0");
    assert_eq!(plugin["failure_policy"], "deny");
    let twice = install(&app, &admin, manifest, plugin_wasm("eicar-scanner")).await;
    assert_problem(twice, StatusCode::CONFLICT, "name_taken").await;
    let listed = app.get_json(&admin, "/api/v1/admin/plugins").await;
    assert_eq!(listed["plugins"].as_array().unwrap().len(), 1);
    let id = plugin["id"].as_str().unwrap();
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/plugins/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let listed = app.get_json(&admin, "/api/v1/admin/plugins").await;
    assert!(listed["plugins"].as_array().unwrap().is_empty());
}

/// A plugin enabled through one instance is in force on another within 2 s.
#[tokio::test]
async fn a_plugin_enabled_through_one_instance_is_in_force_on_another() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.spawn_sibling().await;
    let (admin, user) = admin_and_user(&first).await;
    enabled(&first, &admin, "eicar-scanner", json!({})).await;
    let started = Instant::now();
    loop {
        let response = second.put(&user, "path=/probe.txt", EICAR.to_vec()).await;
        if response.status() == StatusCode::FORBIDDEN {
            break;
        }
        assert_eq!(response.status(), StatusCode::CREATED);
        let removed = second
            .call(
                Method::POST,
                "/api/v1/files/delete",
                Some(&user),
                Some(json!({"path": "/probe.txt"})),
            )
            .await;
        assert_eq!(removed.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not in force on the second instance after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

mod policies {
    use super::*;

    on_both_backends!(
        the_sharing_rules_refuse_links_and_members_against_their_configuration,
        quota_tiers_set_quotas_by_domain_and_cap_file_sizes,
    );

    async fn the_sharing_rules_refuse_links_and_members_against_their_configuration(
        backend: Backend,
    ) {
        let app = TestApp::spawn(backend).await;
        let (admin, user) = admin_and_user(&app).await;
        app.sign_up("friend@example.org").await;
        app.sign_up("outsider@elsewhere.net").await;
        enabled(
            &app,
            &admin,
            "sharing-rules",
            json!({
                "allowed_domains": ["example.org"],
                "max_link_days": 7,
                "link_password_required": true
            }),
        )
        .await;
        app.upload(&user, "/Team/plan.txt", b"plan").await;
        let link = |body: Value| app.call(Method::POST, "/api/v1/links", Some(&user), Some(body));
        let refused = link(json!({"path": "/Team/plan.txt"})).await;
        let problem = assert_problem(refused, StatusCode::FORBIDDEN, "refused_by_plugin").await;
        assert_eq!(problem["detail"], "links must have a password");
        let in_a_month = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
        let too_long = link(
            json!({"path": "/Team/plan.txt", "password": "long enough", "expires_at": in_a_month}),
        )
        .await;
        let problem = assert_problem(too_long, StatusCode::FORBIDDEN, "refused_by_plugin").await;
        assert_eq!(problem["detail"], "links must expire within 7 days");
        let in_three_days = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
        let fine = link(json!({"path": "/Team/plan.txt", "password": "long enough", "expires_at": in_three_days})).await;
        assert_eq!(fine.status(), StatusCode::CREATED);

        let shared: Value = app
            .call(
                Method::POST,
                "/api/v1/sharing/folders",
                Some(&user),
                Some(json!({"path": "/Team"})),
            )
            .await
            .json()
            .await
            .unwrap();
        let members = format!(
            "/api/v1/sharing/folders/{}/members",
            shared["id"].as_str().unwrap()
        );
        let outsider = app
            .call(
                Method::POST,
                &members,
                Some(&user),
                Some(json!({"email": "outsider@elsewhere.net", "role": "viewer"})),
            )
            .await;
        let problem = assert_problem(outsider, StatusCode::FORBIDDEN, "refused_by_plugin").await;
        assert_eq!(problem["plugin"], "sharing-rules");
        let friend = app
            .call(
                Method::POST,
                &members,
                Some(&user),
                Some(json!({"email": "friend@example.org", "role": "editor"})),
            )
            .await;
        assert_eq!(friend.status(), StatusCode::CREATED);
    }

    async fn quota_tiers_set_quotas_by_domain_and_cap_file_sizes(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (admin, user) = admin_and_user(&app).await;
        enabled(
            &app,
            &admin,
            "quota-tiers",
            json!({"tiers": {"example.org": 100}, "max_file_bytes": 50}),
        )
        .await;
        let too_big = app.put(&user, "path=/big.bin", vec![1; 60]).await;
        let problem = assert_problem(too_big, StatusCode::FORBIDDEN, "refused_by_plugin").await;
        assert_eq!(problem["detail"], "files may be at most 50 bytes");
        app.upload(&user, "/a.bin", &[1; 40]).await;
        app.upload(&user, "/b.bin", &[2; 40]).await;
        let account = app.get_json(&user, "/api/v1/account").await;
        assert_eq!(
            account["quota_bytes"], 100,
            "the account shows the tier's quota"
        );
        assert_eq!(account["used_bytes"], 80);
        let over = app.put(&user, "path=/c.bin", vec![3; 30]).await;
        let problem =
            assert_problem(over, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("quota of 100 bytes"),
            "{problem}"
        );
    }
}
