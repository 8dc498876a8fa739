//! Shared links' use cases, with the in-memory fakes.

use bytes::Bytes;
use chrono::Duration;
use coffer_domain::account::SignupPolicy;
use futures_util::TryStreamExt;

use super::{LinkVisit, NewLink};
use crate::AppError;
use crate::testing::TestEnv;

fn visit(token: &str, password: Option<&str>) -> LinkVisit {
    LinkVisit {
        token: token.into(),
        password: password.map(Into::into),
        pass: false,
        client_address: None,
    }
}

/// A test world with one member who has one file (and its folders).
async fn member_with_file(path: &str, bytes: &[u8]) -> (TestEnv, crate::Principal) {
    let env = TestEnv::new(SignupPolicy::Open);
    env.member("a@example.org").await;
    let me = env.principal("a@example.org").await;
    env.upload(&me, path, bytes).await;
    (env, me)
}

fn new_link(path: &str) -> NewLink {
    NewLink {
        path: path.into(),
        expires_at: None,
        password: None,
        allow_download: true,
    }
}

#[tokio::test]
async fn a_folder_link_reaches_below_its_folder_and_nothing_above() {
    let (env, me) = member_with_file("/Shared/sub/file.txt", b"inside").await;
    env.upload(&me, "/secret.txt", b"outside").await;
    let issued = env
        .files
        .create_link(&me, new_link("/Shared"))
        .await
        .unwrap();
    let v = visit(&issued.token, None);

    let root = env.files.link_metadata(&v, "/").await.unwrap();
    assert_eq!(root.path.to_string(), "/");
    assert_eq!(root.node.name.as_str(), "Shared");
    let page = env.files.link_list(&v, "/", 10, None).await.unwrap();
    assert_eq!(page.entries[0].path.to_string(), "/sub");
    let download = env
        .files
        .link_download(&v, "/SUB/file.txt", Default::default())
        .await
        .unwrap()
        .into_download()
        .unwrap();
    let bytes: Vec<Bytes> = download.content.try_collect().await.unwrap();
    assert_eq!(bytes.concat(), b"inside");

    for outside in ["/secret.txt", "/../secret.txt", "/sub/../../secret.txt"] {
        let err = env.files.link_metadata(&v, outside).await.unwrap_err();
        assert!(
            matches!(err, AppError::NotFound(_) | AppError::Invalid { .. }),
            "{outside}: {err:?}"
        );
    }
    let err = env
        .files
        .link_metadata(&visit("cfl_made_up", None), "/")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound("link")));
}

#[tokio::test]
async fn passwords_are_required_checked_and_throttled() {
    let (env, me) = member_with_file("/doc.txt", b"d").await;
    let mut input = new_link("/doc.txt");
    input.password = Some("link password".into());
    let issued = env.files.create_link(&me, input).await.unwrap();
    assert!(issued.link.password.is_some());

    let err = env
        .files
        .link_metadata(&visit(&issued.token, None), "/")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::LinkPasswordRequired));
    let right = visit(&issued.token, Some("link password"));
    assert_eq!(
        env.files
            .link_metadata(&right, "/")
            .await
            .unwrap()
            .path
            .to_string(),
        "/doc.txt"
    );
    for _ in 0..crate::testing::FakeThrottle::LIMIT {
        let err = env
            .files
            .link_metadata(&visit(&issued.token, Some("guess")), "/")
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::InvalidLinkPassword));
    }
    let err = env.files.link_metadata(&right, "/").await.unwrap_err();
    assert!(
        matches!(err, AppError::Throttled { .. }),
        "even the right password: {err:?}"
    );
}

#[tokio::test]
async fn expired_and_revoked_links_are_gone() {
    let (env, me) = member_with_file("/doc.txt", b"d").await;
    let mut expiring = new_link("/doc.txt");
    expiring.expires_at = Some(env.clock_now() + Duration::hours(1));
    let expiring = env.files.create_link(&me, expiring).await.unwrap();
    let revoked = env
        .files
        .create_link(&me, new_link("/doc.txt"))
        .await
        .unwrap();
    env.files.revoke_link(&me, revoked.link.id).await.unwrap();
    let err = env
        .files
        .link_metadata(&visit(&revoked.token, None), "/")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::LinkGone(_)));
    assert!(
        env.files
            .link_metadata(&visit(&expiring.token, None), "/")
            .await
            .is_ok()
    );
    env.clock.advance(Duration::hours(1));
    let err = env
        .files
        .link_metadata(&visit(&expiring.token, None), "/")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::LinkGone(_)));

    let mut past = new_link("/doc.txt");
    past.expires_at = Some(env.clock_now());
    let err = env.files.create_link(&me, past).await.unwrap_err();
    assert!(matches!(
        err,
        AppError::Invalid {
            field: "expires_at",
            ..
        }
    ));
}

#[tokio::test]
async fn links_without_download_still_show_metadata_and_die_with_their_target() {
    let env = TestEnv::new(SignupPolicy::Open);
    env.member("a@example.org").await;
    let me = env.principal("a@example.org").await;
    env.member("b@example.org").await;
    let other = env.principal("b@example.org").await;
    env.upload(&me, "/doc.txt", b"d").await;
    let mut input = new_link("/doc.txt");
    input.allow_download = false;
    let issued = env.files.create_link(&me, input).await.unwrap();
    let v = visit(&issued.token, None);
    assert!(env.files.link_metadata(&v, "/").await.is_ok());
    let err = env
        .files
        .link_download(&v, "/", Default::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AppError::DownloadNotAllowed));

    let err = env
        .files
        .revoke_link(&other, issued.link.id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::NotFound("link")),
        "only the owner revokes"
    );
    assert_eq!(env.files.list_links(&me).await.unwrap().len(), 1);
    assert!(env.files.list_links(&other).await.unwrap().is_empty());

    env.files.delete(&me, "/doc.txt").await.unwrap();
    let err = env.files.link_metadata(&v, "/").await.unwrap_err();
    assert!(
        matches!(err, AppError::NotFound(_)),
        "a trashed target is not served"
    );
    assert!(env.files.list_links(&me).await.unwrap()[0].target.is_none());
}

#[tokio::test]
async fn visits_are_read_once_more_when_a_database_connection_broke_under_them() {
    let (env, me) = member_with_file("/doc.txt", b"d").await;
    let issued = env
        .files
        .create_link(&me, new_link("/doc.txt"))
        .await
        .unwrap();
    let v = visit(&issued.token, None);
    env.store.break_reads(1);
    assert!(env.files.link_metadata(&v, "/").await.is_ok());
    env.store.break_reads(1);
    let download = env
        .files
        .link_download(&v, "/", Default::default())
        .await
        .unwrap()
        .into_download()
        .unwrap();
    let bytes: Vec<Bytes> = download.content.try_collect().await.unwrap();
    assert_eq!(bytes.concat(), b"d");
}

#[tokio::test]
async fn a_pass_stands_in_for_the_password_but_not_for_a_live_link() {
    let (env, me) = member_with_file("/doc.txt", b"d").await;
    let mut input = new_link("/doc.txt");
    input.password = Some("link password".into());
    let issued = env.files.create_link(&me, input).await.unwrap();
    let with_pass = LinkVisit {
        pass: true,
        ..visit(&issued.token, None)
    };
    assert!(env.files.link_metadata(&with_pass, "/").await.is_ok());
    env.files.revoke_link(&me, issued.link.id).await.unwrap();
    assert!(matches!(
        env.files.link_metadata(&with_pass, "/").await,
        Err(AppError::LinkGone(_))
    ));
}

#[tokio::test]
async fn disabling_an_account_revokes_its_links_for_good() {
    let env = TestEnv::new(SignupPolicy::Open);
    env.admin("root@example.org").await;
    let admin = env.principal("root@example.org").await;
    let user = env.member("a@example.org").await;
    let me = env.principal("a@example.org").await;
    env.upload(&me, "/doc.txt", b"d").await;
    let issued = env
        .files
        .create_link(&me, new_link("/doc.txt"))
        .await
        .unwrap();
    let v = visit(&issued.token, None);
    assert!(env.files.link_metadata(&v, "/").await.is_ok());
    env.disable(&admin, user.id()).await;
    assert!(matches!(
        env.files.link_metadata(&v, "/").await,
        Err(AppError::LinkGone(_))
    ));
    env.admin_uc
        .update_user(
            &admin,
            user.id(),
            crate::admin::UserChanges {
                disabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(
            env.files.link_metadata(&v, "/").await,
            Err(AppError::LinkGone(_))
        ),
        "enabling the account again revives no link"
    );
    let me = env.principal("a@example.org").await;
    assert!(
        env.files.list_links(&me).await.unwrap()[0]
            .link
            .revoked_at
            .is_some()
    );
}
