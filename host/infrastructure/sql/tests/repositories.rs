//! Repository and unit-of-work tests against real databases: every test runs on SQLite and on
//! PostgreSQL (see `coffer_sql::testing` for where PostgreSQL comes from).

use chrono::{TimeZone, Utc};
use coffer_application::ports::{RepositoryError, UnitOfWork};
use coffer_domain::Timestamp;
use coffer_domain::account::{
    AccessToken, ByteCount, Email, Invite, InviteId, PasswordHash, TokenDigest, TokenId, TokenName,
    User, UserId, UserStatus,
};
use coffer_sql::testing::TestDatabase;
use coffer_sql::{Backend, SqlStore, StoreOptions};
use uuid::Uuid;

/// Generates `sqlite::<test>` and `postgres::<test>` for each listed test function.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $test() { super::run(coffer_sql::Backend::Sqlite, super::$test).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $test() { super::run(coffer_sql::Backend::Postgres, super::$test).await } )*
        }
    };
}

on_both_backends!(
    users_round_trip_every_field,
    emails_are_unique,
    users_page_in_email_order,
    dropping_a_transaction_rolls_back,
    tokens_are_found_by_digest_listed_and_deleted,
    invites_round_trip,
    concurrent_writers_all_commit,
    migrations_are_idempotent,
    server_secrets_are_created_once_and_shared,
    plugins_components_generation_and_audit_round_trip,
);

async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(SqlStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::new(backend).await;
    let store = SqlStore::connect(db.url(), &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(store.backend(), backend);
    store.migrate().await.unwrap();
    test(store.clone()).await;
    store.close().await;
}

fn at(seconds: i64) -> Timestamp {
    Utc.timestamp_opt(1_790_000_000 + seconds, 123_456_000)
        .unwrap()
}

fn user(n: u128, email: &str) -> User {
    User::register(
        UserId::from_uuid(Uuid::from_u128(n)),
        Email::parse(email).unwrap(),
        PasswordHash::from_phc(format!("$argon2id$hash-{n}")),
        false,
        at(0),
    )
}

fn token(n: u128, user: &User, created: i64, expires: i64) -> AccessToken {
    AccessToken {
        id: TokenId::from_uuid(Uuid::from_u128(1000 + n)),
        user_id: user.id(),
        digest: TokenDigest::from_bytes([n as u8; 32]),
        name: TokenName::parse(&format!("device {n}")).unwrap(),
        created_at: at(created),
        expires_at: at(expires),
    }
}

async fn insert_users(store: &SqlStore, users: &[&User]) {
    let mut tx = store.begin().await.unwrap();
    for u in users {
        tx.users().insert(u).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn users_round_trip_every_field(store: SqlStore) {
    let mut alice = user(1, "alice@example.org");
    insert_users(&store, &[&alice]).await;

    let mut tx = store.begin_read().await.unwrap();
    assert_eq!(
        tx.users().get(alice.id()).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(tx.users().count().await.unwrap(), 1);
    drop(tx);

    let admin = UserId::from_uuid(Uuid::from_u128(99));
    alice.set_admin(true, admin).unwrap();
    alice.set_status(UserStatus::Disabled, admin).unwrap();
    alice.set_quota(Some(ByteCount::MAX));
    alice.change_password(PasswordHash::from_phc("$argon2id$new".into()));
    let mut tx = store.begin().await.unwrap();
    tx.users().update(&alice).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin_read().await.unwrap();
    let email = Email::parse("ALICE@example.org").unwrap();
    assert_eq!(tx.users().find_by_email(&email).await.unwrap(), Some(alice));
    let nobody = Email::parse("bob@example.org").unwrap();
    assert_eq!(tx.users().find_by_email(&nobody).await.unwrap(), None);
}

async fn emails_are_unique(store: SqlStore) {
    insert_users(&store, &[&user(1, "alice@example.org")]).await;
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .users()
        .insert(&user(2, "alice@example.org"))
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict("email")), "{err:?}");
}

async fn users_page_in_email_order(store: SqlStore) {
    let names = ["delta", "Bravo", "alpha", "charlie", "echo", "a.z"];
    let users: Vec<User> = names
        .iter()
        .enumerate()
        .map(|(i, n)| user(i as u128 + 1, &format!("{n}@example.org")))
        .collect();
    insert_users(&store, &users.iter().collect::<Vec<_>>()).await;

    let mut tx = store.begin_read().await.unwrap();
    let first = tx.users().list(None, 4).await.unwrap();
    let after = first.last().unwrap().email().clone();
    let rest = tx.users().list(Some(&after), 4).await.unwrap();
    let order: Vec<String> = first
        .iter()
        .chain(&rest)
        .map(|u| u.email().as_str().split('@').next().unwrap().to_owned())
        .collect();
    assert_eq!(order, ["a.z", "alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(rest.len(), 2);
}

async fn dropping_a_transaction_rolls_back(store: SqlStore) {
    let mut tx = store.begin().await.unwrap();
    tx.users()
        .insert(&user(1, "alice@example.org"))
        .await
        .unwrap();
    drop(tx);
    let mut tx = store.begin_read().await.unwrap();
    assert_eq!(tx.users().count().await.unwrap(), 0);
}

async fn tokens_are_found_by_digest_listed_and_deleted(store: SqlStore) {
    let alice = user(1, "alice@example.org");
    let bob = user(2, "bob@example.org");
    insert_users(&store, &[&alice, &bob]).await;
    let old = token(1, &alice, 0, 10);
    let new = token(2, &alice, 5, 100);
    let bobs = token(3, &bob, 0, 100);
    let mut tx = store.begin().await.unwrap();
    for t in [&old, &new, &bobs] {
        tx.tokens().insert(t).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.tokens().find_by_digest(&new.digest).await.unwrap(),
        Some(new.clone())
    );
    let missing = TokenDigest::from_bytes([77; 32]);
    assert_eq!(tx.tokens().find_by_digest(&missing).await.unwrap(), None);
    assert_eq!(
        tx.tokens().list_for_user(alice.id()).await.unwrap(),
        vec![new.clone(), old.clone()],
        "newest first"
    );
    assert!(
        !tx.tokens().delete(alice.id(), bobs.id).await.unwrap(),
        "not hers"
    );
    assert_eq!(
        tx.tokens()
            .delete_expired_for_user(alice.id(), at(10))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tx.tokens().list_for_user(alice.id()).await.unwrap(),
        vec![new.clone()]
    );
    assert!(tx.tokens().delete(alice.id(), new.id).await.unwrap());
    assert_eq!(tx.tokens().delete_all_for_user(bob.id()).await.unwrap(), 1);
    tx.commit().await.unwrap();

    let mut tx = store.begin_read().await.unwrap();
    assert!(
        tx.tokens()
            .list_for_user(alice.id())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tx.tokens()
            .list_for_user(bob.id())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn invites_round_trip(store: SqlStore) {
    let admin = user(1, "root@example.org");
    let invitee = user(2, "bob@example.org");
    insert_users(&store, &[&admin, &invitee]).await;
    let mut invite = Invite {
        id: InviteId::from_uuid(Uuid::from_u128(7)),
        code_digest: TokenDigest::from_bytes([9; 32]),
        email: Some(invitee.email().clone()),
        created_by: admin.id(),
        created_at: at(0),
        expires_at: at(3600),
        accepted_by: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.invites().insert(&invite).await.unwrap();
    invite.accept(invitee.email(), invitee.id(), at(1)).unwrap();
    tx.invites().update(&invite).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin_read().await.unwrap();
    let found = tx
        .invites()
        .find_by_digest(&invite.code_digest)
        .await
        .unwrap();
    assert_eq!(found, Some(invite));
}

async fn concurrent_writers_all_commit(store: SqlStore) {
    // Each writer reads, then writes: the pattern that fails on SQLite without BEGIN IMMEDIATE,
    // and that races on PostgreSQL without the lock (two "first" accounts).
    let writers = (0..16u128).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await?;
            tx.users().lock_against_inserts().await?;
            let seen = tx.users().count().await?;
            tx.users()
                .insert(&user(n + 1, &format!("user{n}@example.org")))
                .await?;
            tx.commit().await?;
            Ok::<u64, RepositoryError>(seen)
        })
    });
    let mut seen = Vec::new();
    for writer in writers.collect::<Vec<_>>() {
        seen.push(writer.await.unwrap().unwrap());
    }
    seen.sort();
    assert_eq!(
        seen,
        (0..16).collect::<Vec<u64>>(),
        "writers were serialised"
    );
    let mut tx = store.begin_read().await.unwrap();
    assert_eq!(tx.users().count().await.unwrap(), 16);
}

async fn migrations_are_idempotent(store: SqlStore) {
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

async fn server_secrets_are_created_once_and_shared(store: SqlStore) {
    let first = store.server_secret("cursor").await.unwrap();
    assert_eq!(first.len(), 32);
    assert_eq!(
        store.server_secret("cursor").await.unwrap(),
        first,
        "the same on every ask"
    );
    assert_ne!(store.server_secret("other").await.unwrap(), first);
}

async fn plugins_components_generation_and_audit_round_trip(store: SqlStore) {
    use coffer_domain::plugins::{
        AuditAction, AuditEntry, FailurePolicy, Hook, Plugin, PluginId, PluginLimits, PluginName,
        PluginVersion,
    };
    let plugin = |n: u128, name: &str, position: i64| Plugin {
        id: PluginId::from_uuid(Uuid::from_u128(n)),
        name: PluginName::parse(name).unwrap(),
        version: PluginVersion::parse("1.2.3-beta").unwrap(),
        description: "scans".into(),
        hooks: vec![Hook::UploadScanner, Hook::Events],
        interface_version: "0.1.0".into(),
        digest: "ab".repeat(32),
        config: r#"{"signatures":[]}"#.into(),
        config_schema: Some(r#"{"type":"object"}"#.into()),
        enabled: true,
        position,
        limits: PluginLimits::new(32 << 20, std::time::Duration::from_millis(750), 8192).unwrap(),
        failure_policy: FailurePolicy::Allow,
        consecutive_failures: 2,
        disabled_reason: Some("why".into()),
        installed_at: at(1),
        updated_at: at(2),
    };
    let first = plugin(1, "scanner", 5);
    let second = plugin(2, "another", 1);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.plugins().generation().await.unwrap(), 0);
    tx.plugins()
        .store_component(&first.digest, b"wasm bytes", at(0))
        .await
        .unwrap();
    tx.plugins()
        .store_component(&first.digest, b"ignored: stored once", at(0))
        .await
        .unwrap();
    tx.plugins().insert(&first).await.unwrap();
    tx.plugins().insert(&second).await.unwrap();
    assert_eq!(tx.plugins().bump_generation().await.unwrap(), 1);
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.plugins().get(first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        tx.plugins().find_by_name(&first.name).await.unwrap(),
        Some(first.clone())
    );
    let order: Vec<_> = tx
        .plugins()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(order, ["another", "scanner"], "by position");
    assert_eq!(
        tx.plugins()
            .component(&first.digest)
            .await
            .unwrap()
            .unwrap(),
        b"wasm bytes"
    );
    let mut renamed = plugin(3, "scanner", 0);
    renamed.id = PluginId::from_uuid(Uuid::from_u128(3));
    assert!(matches!(
        tx.plugins().insert(&renamed).await,
        Err(RepositoryError::Conflict("plugin"))
    ));
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    for (i, action) in [
        AuditAction::Installed,
        AuditAction::Denied,
        AuditAction::Failed,
    ]
    .into_iter()
    .enumerate()
    {
        tx.plugins()
            .audit(&AuditEntry {
                id: None,
                at: at(10 + i as i64),
                action,
                plugin: if i == 2 {
                    "another".into()
                } else {
                    "scanner".into()
                },
                version: Some("1.2.3-beta".into()),
                hook: (i > 0).then_some(Hook::UploadScanner),
                actor: Some("a@example.org".into()),
                subject: Some("/x".into()),
                reason: (i > 0).then(|| "found".into()),
                duration: (i > 0).then(|| std::time::Duration::from_micros(1500)),
            })
            .await
            .unwrap();
    }
    let all = tx.plugins().audit_log(None, None, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].action, AuditAction::Failed, "newest first");
    let scanner = tx
        .plugins()
        .audit_log(Some("scanner"), None, 1)
        .await
        .unwrap();
    assert_eq!(scanner.len(), 1);
    assert_eq!(scanner[0].action, AuditAction::Denied);
    assert_eq!(
        scanner[0].duration,
        Some(std::time::Duration::from_micros(1500))
    );
    let older = tx
        .plugins()
        .audit_log(Some("scanner"), scanner[0].id, 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].action, AuditAction::Installed);

    assert!(tx.plugins().delete(first.id).await.unwrap());
    assert_eq!(
        tx.plugins().delete_unused_components().await.unwrap(),
        0,
        "still used"
    );
    assert!(tx.plugins().delete(second.id).await.unwrap());
    assert_eq!(tx.plugins().delete_unused_components().await.unwrap(), 1);
    assert!(!tx.plugins().delete(second.id).await.unwrap());
    tx.commit().await.unwrap();
}
