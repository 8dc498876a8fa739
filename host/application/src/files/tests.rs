//! Use-case tests of files and folders, on the in-memory fakes.

use bytes::Bytes;
use coffer_domain::account::SignupPolicy;
use coffer_domain::files::{BLOCK_SIZE, BlockHash, ContentHash};
use futures_util::TryStreamExt;

use super::{
    ListCursor, RangeRequest, ReadRequest, RevisionTest, Served, UploadMode, UploadOutcome,
};
use crate::testing::TestEnv;
use crate::{AppError, Principal};

async fn setup() -> (TestEnv, Principal) {
    let env = TestEnv::new(SignupPolicy::Open);
    env.member("a@example.org").await;
    let me = env.principal("a@example.org").await;
    (env, me)
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn dropbox_hash(data: &[u8]) -> String {
    let blocks: Vec<BlockHash> = data.chunks(BLOCK_SIZE).map(BlockHash::of).collect();
    ContentHash::of_blocks(&blocks).to_hex()
}

#[tokio::test]
async fn uploads_round_trip_at_block_boundaries() {
    let (env, me) = setup().await;
    for (i, len) in [0, 1, BLOCK_SIZE, BLOCK_SIZE + 1].into_iter().enumerate() {
        let content = data(len, i as u8);
        let path = format!("/f{i}.bin");
        let outcome = env.upload(&me, &path, &content).await;
        let file = outcome.entry().node.file.clone().unwrap();
        assert_eq!(file.size.get(), len as u64);
        assert_eq!(file.content_hash.to_hex(), dropbox_hash(&content));
        assert_eq!(
            env.download(&me, &path).await.unwrap(),
            content,
            "{len} bytes"
        );
    }
    assert_eq!(env.store.usage_of(me.user_id), (2 * BLOCK_SIZE + 2) as u64);
}

#[tokio::test]
async fn write_modes_conflict_replace_and_skip_identical_content() {
    let (env, me) = setup().await;
    let first = env.upload(&me, "/doc.txt", b"v1").await;
    let rev1 = first.entry().node.file.clone().unwrap().revision;

    let add_again = env
        .upload_with(&me, "/doc.txt", b"v2", UploadMode::Add)
        .await;
    assert!(matches!(
        add_again,
        Err(AppError::Conflict(crate::Conflict::NameTaken, _))
    ));
    let same = env
        .upload_with(&me, "/doc.txt", b"v1", UploadMode::Add)
        .await
        .unwrap();
    assert!(
        matches!(same, UploadOutcome::Unchanged(_)),
        "identical content is a no-op"
    );
    assert_eq!(env.store.revision_count(), 1);

    let update = UploadMode::Update(rev1.rev());
    let replaced = env
        .upload_with(&me, "/doc.txt", b"v2", update.clone())
        .await
        .unwrap();
    assert!(matches!(replaced, UploadOutcome::Replaced(_)));
    let stale = env.upload_with(&me, "/doc.txt", b"v3", update).await;
    assert!(
        matches!(
            stale,
            Err(AppError::Conflict(crate::Conflict::RevisionMismatch, _))
        ),
        "rev1 is no longer current"
    );

    env.upload_with(&me, "/doc.txt", b"v4!", UploadMode::Overwrite)
        .await
        .unwrap();
    assert_eq!(env.download(&me, "/doc.txt").await.unwrap(), b"v4!");
    assert_eq!(
        env.store.revision_count(),
        3,
        "every acknowledged write is a revision"
    );
    assert_eq!(env.store.usage_of(me.user_id), 3);
}

#[tokio::test]
async fn autorename_keeps_both_files() {
    let (env, me) = setup().await;
    env.upload(&me, "/Report.pdf", b"one").await;
    let mut input = super::Upload {
        path: "/report.PDF".into(),
        mode: UploadMode::Add,
        autorename: true,
        client_modified: None,
        media_type: None,
        content_hash: None,
        length: None,
    };
    let content = || Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(b"two"))])) as _;
    let second = env
        .files
        .upload(&me, input.clone(), content())
        .await
        .unwrap();
    assert_eq!(second.entry().path.to_string(), "/report (1).PDF");
    input.path = "/Report.pdf".into();
    let third = env.files.upload(&me, input, content()).await.unwrap();
    assert_eq!(third.entry().path.to_string(), "/Report (2).pdf");
}

#[tokio::test]
async fn a_wrong_content_hash_or_length_stores_nothing() {
    let (env, me) = setup().await;
    let input = super::Upload {
        path: "/a.txt".into(),
        mode: UploadMode::Add,
        autorename: false,
        client_modified: None,
        media_type: None,
        content_hash: Some(dropbox_hash(b"something else")),
        length: None,
    };
    let content = Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(b"abc"))]));
    let err = env
        .files
        .upload(&me, input.clone(), content)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::ContentHashMismatch { .. }),
        "{err:?}"
    );

    let short = super::Upload {
        content_hash: None,
        length: Some(10),
        ..input
    };
    let content = Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(b"abc"))]));
    let err = env.files.upload(&me, short, content).await.unwrap_err();
    assert!(matches!(err, AppError::UploadInterrupted(_)), "{err:?}");
    assert_eq!(env.store.node_count(), 0);
    assert_eq!(env.store.usage_of(me.user_id), 0);
}

#[tokio::test]
async fn an_interrupted_stream_stores_nothing() {
    let (env, me) = setup().await;
    let input = super::Upload {
        path: "/a.txt".into(),
        mode: UploadMode::Add,
        autorename: false,
        client_modified: None,
        media_type: None,
        content_hash: None,
        length: None,
    };
    let content = Box::pin(futures_util::stream::iter([
        Ok(Bytes::from_static(b"partial")),
        Err(crate::ports::ContentError::Source(
            "connection reset".into(),
        )),
    ]));
    let err = env.files.upload(&me, input, content).await.unwrap_err();
    assert!(matches!(err, AppError::UploadInterrupted(_)), "{err:?}");
    assert_eq!(env.store.node_count(), 0);
}

#[tokio::test]
async fn quota_refusals_leave_nothing_in_the_namespace() {
    let env = TestEnv::new(SignupPolicy::Open);
    let me = env.member_with_quota("a@example.org", 10).await;

    env.upload(&me, "/six.txt", b"123456").await;
    let err = env
        .upload_with(&me, "/five.txt", b"12345", UploadMode::Add)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::QuotaExceeded {
                used: 6,
                quota: 10,
                needed: 5
            }
        ),
        "{err:?}"
    );
    assert_eq!(env.store.node_count(), 1);
    // Replacing counts only the growth; trashing frees the bytes.
    env.upload_with(&me, "/six.txt", b"1234567890", UploadMode::Overwrite)
        .await
        .unwrap();
    assert_eq!(env.store.usage_of(me.user_id), 10);
    env.files.delete(&me, "/six.txt").await.unwrap();
    assert_eq!(env.store.usage_of(me.user_id), 0);
    env.upload(&me, "/five.txt", b"12345").await;
    let trashed = env.files.list_trash(&me, None, 10).await.unwrap();
    let err = env
        .files
        .restore(&me, trashed.items[0].node.id, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::QuotaExceeded { .. }),
        "restoring counts too"
    );
}

#[tokio::test]
async fn identical_content_is_stored_once_for_everyone() {
    let (env, alice) = setup().await;
    env.member("b@example.org").await;
    let bob = env.principal("b@example.org").await;
    let content = data(BLOCK_SIZE + 10, 7);
    env.upload(&alice, "/a.bin", &content).await;
    env.upload(&bob, "/b.bin", &content).await;
    env.files
        .copy_entry(&alice, "/a.bin", "/copy.bin", false)
        .await
        .unwrap();
    assert_eq!(env.blobs.len(), 2, "two blocks, stored once");
    assert_eq!(env.download(&bob, "/b.bin").await.unwrap(), content);
    assert_eq!(env.download(&alice, "/copy.bin").await.unwrap(), content);
}

#[tokio::test]
async fn names_collide_ignoring_case_and_normalisation_but_keep_their_spelling() {
    let (env, me) = setup().await;
    env.files
        .create_folder(&me, "/Caf\u{e9}", false, false)
        .await
        .unwrap();
    let clash = env
        .files
        .create_folder(&me, "/CAFE\u{301}", false, false)
        .await;
    assert!(matches!(clash, Err(AppError::Conflict(..))));
    env.upload(&me, "/cafe\u{301}/Menu.TXT", b"x").await;
    let entry = env.files.metadata(&me, "/CAFÉ/menu.txt").await.unwrap();
    assert_eq!(entry.path.to_string(), "/Caf\u{e9}/Menu.TXT");
    for bad in ["/a/../b", "no-slash", "/a\0b", "/", "/x//y"] {
        let err = env.files.metadata(&me, bad).await.unwrap_err();
        assert!(
            matches!(err, AppError::Invalid { .. } | AppError::NotAllowed(_)),
            "{bad:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn listing_pages_in_name_order_and_recursively_depth_first() {
    let (env, me) = setup().await;
    for path in [
        "/b.txt",
        "/A/x.txt",
        "/A/Sub/deep.txt",
        "/c.txt",
        "/A/y.txt",
    ] {
        env.upload(&me, path, path.as_bytes()).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<ListCursor> = None;
    loop {
        let page = env
            .files
            .list_folder(&me, "/", true, 2, cursor)
            .await
            .unwrap();
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.iter().map(|e| e.path.to_string()));
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "/A",
            "/A/Sub",
            "/A/Sub/deep.txt",
            "/A/x.txt",
            "/A/y.txt",
            "/b.txt",
            "/c.txt"
        ]
    );
    let flat = env
        .files
        .list_folder(&me, "/A", false, 100, None)
        .await
        .unwrap();
    let names: Vec<_> = flat.entries.iter().map(|e| e.path.to_string()).collect();
    assert_eq!(names, ["/A/Sub", "/A/x.txt", "/A/y.txt"]);
    assert!(flat.cursor.is_none());
}

#[tokio::test]
async fn a_forged_cursor_is_refused() {
    let (env, me) = setup().await;
    env.member("b@example.org").await;
    let bob = env.principal("b@example.org").await;
    env.upload(&bob, "/Private/secret.txt", b"s").await;
    let bobs = env.files.metadata(&bob, "/Private").await.unwrap();
    let forged = ListCursor {
        recursive: false,
        frames: vec![super::ListFrame {
            folder: bobs.node.id,
            after: None,
        }],
    };
    let err = env
        .files
        .list_folder(&me, "/", false, 10, Some(forged))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Invalid {
                field: "cursor",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn moving_a_folder_is_one_change_and_cannot_nest_into_itself() {
    let (env, me) = setup().await;
    env.upload(&me, "/Old/inner/file.txt", b"x").await;
    let moved = env
        .files
        .move_entry(&me, "/Old", "/New/Place", false)
        .await
        .unwrap();
    assert_eq!(moved.path.to_string(), "/New/Place");
    assert_eq!(
        env.download(&me, "/New/Place/inner/file.txt")
            .await
            .unwrap(),
        b"x"
    );
    assert!(matches!(
        env.files.metadata(&me, "/Old").await,
        Err(AppError::NotFound(_))
    ));
    let err = env
        .files
        .move_entry(&me, "/New", "/New/Place/Inside", false)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotAllowed(_)), "{err:?}");
    let renamed = env
        .files
        .move_entry(&me, "/New/Place", "/New/PLACE", false)
        .await
        .unwrap();
    assert_eq!(
        renamed.path.to_string(),
        "/New/PLACE",
        "a case-only rename is allowed"
    );
    env.upload(&me, "/taken.txt", b"t").await;
    let err = env
        .files
        .move_entry(&me, "/New", "/taken.txt", false)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(..)));
    let by_id = env
        .files
        .move_entry(&me, &format!("id:{}", moved.node.id), "/Back", false)
        .await
        .unwrap();
    assert_eq!(by_id.path.to_string(), "/Back");
}

#[tokio::test]
async fn copying_a_folder_shares_content_and_counts_usage() {
    let (env, me) = setup().await;
    env.upload(&me, "/Src/a.txt", b"aaaa").await;
    env.upload(&me, "/Src/sub/b.txt", b"bb").await;
    let blobs_before = env.blobs.len();
    let copy = env
        .files
        .copy_entry(&me, "/Src", "/Dst", false)
        .await
        .unwrap();
    assert_eq!(copy.path.to_string(), "/Dst");
    assert_eq!(env.download(&me, "/Dst/sub/b.txt").await.unwrap(), b"bb");
    assert_eq!(env.blobs.len(), blobs_before, "no byte copied");
    assert_eq!(env.store.usage_of(me.user_id), 12);
    let again = env
        .files
        .copy_entry(&me, "/Src", "/Dst", true)
        .await
        .unwrap();
    assert_eq!(again.path.to_string(), "/Dst (1)");
    let err = env
        .files
        .copy_entry(&me, "/Src", "/Src/inside", false)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotAllowed(_)));
}

#[tokio::test]
async fn copying_too_many_entries_at_once_is_refused() {
    let (env, me) = setup().await;
    for i in 0..env.storage.max_copy_entries {
        env.upload(&me, &format!("/Big/{i}.txt"), b"x").await;
    }
    let err = env
        .files
        .copy_entry(&me, "/Big", "/Big2", false)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::TooLarge(_)), "{err:?}");
    assert!(env.files.metadata(&me, "/Big2").await.is_err());
}

#[tokio::test]
async fn trash_hides_restores_and_deletes_for_good() {
    let (env, me) = setup().await;
    let a = env.upload(&me, "/Folder/a.txt", b"aaa").await;
    env.upload(&me, "/Folder/b.txt", b"bb").await;
    let trashed = env.files.delete(&me, "/Folder").await.unwrap();
    assert!(trashed.node.trashed_at.is_some());
    assert!(matches!(
        env.files.metadata(&me, "/Folder/a.txt").await,
        Err(AppError::NotFound(_))
    ));
    let a_by_id = format!("id:{}", a.entry().node.id);
    let err = env.files.metadata(&me, &a_by_id).await.unwrap_err();
    assert!(
        matches!(err, AppError::NotFound(_)),
        "hidden with its folder, by id too"
    );
    assert_eq!(env.store.usage_of(me.user_id), 0);

    let trash = env.files.list_trash(&me, None, 10).await.unwrap();
    assert_eq!(trash.items.len(), 1);
    assert_eq!(trash.items[0].original_path.to_string(), "/Folder");

    env.upload(&me, "/Folder/new.txt", b"n").await;
    let restored = env.files.restore(&me, trashed.node.id, true).await.unwrap();
    assert_eq!(
        restored.path.to_string(),
        "/Folder (1)",
        "the name was taken since"
    );
    assert_eq!(
        env.download(&me, "/Folder (1)/a.txt").await.unwrap(),
        b"aaa"
    );
    assert_eq!(env.store.usage_of(me.user_id), 6);

    env.files.delete(&me, "/Folder (1)/b.txt").await.unwrap();
    env.files.delete(&me, "/Folder (1)").await.unwrap();
    let trash = env.files.list_trash(&me, None, 10).await.unwrap();
    let b = trash
        .items
        .iter()
        .find(|i| i.original_path.to_string() == "/Folder (1)/b.txt")
        .unwrap();
    let err = env.files.restore(&me, b.node.id, true).await.unwrap_err();
    assert!(
        matches!(err, AppError::Conflict(..)),
        "its folder is trashed: {err:?}"
    );

    let nodes_before = env.store.node_count();
    env.files
        .delete_permanently(&me, trash.items[0].node.id)
        .await
        .unwrap();
    assert!(env.store.node_count() < nodes_before);
    assert_eq!(
        env.files.empty_trash(&me).await.unwrap(),
        (trash.items.len() - 1) as u64
    );
    assert!(
        env.files
            .list_trash(&me, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        env.store.usage_of(me.user_id),
        1,
        "only /Folder/new.txt is live"
    );
}

#[tokio::test]
async fn old_revisions_can_be_listed_downloaded_and_restored() {
    let (env, me) = setup().await;
    let v1 = env.upload(&me, "/doc.txt", b"first").await;
    env.upload_with(&me, "/doc.txt", b"second!", UploadMode::Overwrite)
        .await
        .unwrap();
    let (_, revisions) = env.files.revisions(&me, "/doc.txt", 10).await.unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[1].size().get(), 5, "newest first");
    let old_rev = v1.entry().node.file.clone().unwrap().revision.rev();
    let old = env
        .files
        .download(&me, "/doc.txt", Some(&old_rev), Default::default())
        .await
        .unwrap()
        .into_download()
        .unwrap();
    let bytes: Vec<Bytes> = old.content.try_collect().await.unwrap();
    assert_eq!(bytes.concat(), b"first");

    let restored = env
        .files
        .restore_revision(&me, "/doc.txt", &old_rev)
        .await
        .unwrap();
    assert!(matches!(restored, UploadOutcome::Replaced(_)));
    assert_eq!(env.download(&me, "/doc.txt").await.unwrap(), b"first");
    assert_eq!(env.store.usage_of(me.user_id), 5);
    let (_, revisions) = env.files.revisions(&me, "/doc.txt", 10).await.unwrap();
    assert_eq!(revisions.len(), 3, "restoring adds a revision");
    let again = env
        .files
        .restore_revision(&me, "/doc.txt", &old_rev)
        .await
        .unwrap();
    assert!(matches!(again, UploadOutcome::Unchanged(_)));
}

#[tokio::test]
async fn ranges_read_across_blocks() {
    let (env, me) = setup().await;
    let content = data(BLOCK_SIZE * 2 + 100, 3);
    env.upload(&me, "/big.bin", &content).await;
    let cases = [
        (
            RangeRequest::From {
                start: BLOCK_SIZE as u64 - 5,
                end: Some(BLOCK_SIZE as u64 + 4),
            },
            BLOCK_SIZE - 5..BLOCK_SIZE + 5,
        ),
        (
            RangeRequest::Suffix(150),
            content.len() - 150..content.len(),
        ),
        (
            RangeRequest::From {
                start: 0,
                end: Some(0),
            },
            0..1,
        ),
    ];
    for (range, expected) in cases {
        let download = env
            .files
            .download(&me, "/big.bin", None, ranged(range))
            .await
            .unwrap()
            .into_download()
            .unwrap();
        assert_eq!(download.range, (expected.start as u64, expected.end as u64));
        let bytes: Vec<Bytes> = download.content.try_collect().await.unwrap();
        assert_eq!(bytes.concat(), &content[expected]);
    }
    let beyond = RangeRequest::From {
        start: content.len() as u64,
        end: None,
    };
    let err = env
        .files
        .download(&me, "/big.bin", None, ranged(beyond))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AppError::RangeNotSatisfiable { .. }));
}

/// A test that holds for revisions whose content hash (hex) is one of `tags`.
fn has_tag_among(tags: Vec<String>) -> RevisionTest {
    RevisionTest::new(move |revision| tags.contains(&revision.content_hash().to_hex()))
}

fn ranged(range: RangeRequest) -> ReadRequest {
    ReadRequest {
        range: Some(range),
        ..Default::default()
    }
}

#[tokio::test]
async fn conditions_are_evaluated_against_the_revision_served() {
    let (env, me) = setup().await;
    env.upload(&me, "/doc.txt", b"first version").await;
    let first = env.files.metadata(&me, "/doc.txt").await.unwrap();
    let first_tag = first.node.file.unwrap().content_hash.to_hex();
    let request = |tags: Vec<String>, if_range: Option<String>| ReadRequest {
        range: Some(RangeRequest::From {
            start: 0,
            end: Some(4),
        }),
        not_modified_if: (!tags.is_empty()).then(|| has_tag_among(tags)),
        range_only_if: if_range.map(|tag| has_tag_among(vec![tag])),
    };
    let served = env
        .files
        .download(
            &me,
            "/doc.txt",
            None,
            request(vec![first_tag.clone()], None),
        )
        .await
        .unwrap();
    assert!(matches!(served, Served::NotModified(..)));

    // The content changes between the client's look and its request: the answer is about the
    // new content, whole (the If-Range tag is stale), never a range of it under the old tag.
    env.upload_with(&me, "/doc.txt", b"second version", UploadMode::Overwrite)
        .await
        .unwrap();
    let download = env
        .files
        .download(
            &me,
            "/doc.txt",
            None,
            request(vec![first_tag.clone()], Some(first_tag)),
        )
        .await
        .unwrap()
        .into_download()
        .expect("modified since");
    assert!(!download.partial);
    let bytes: Vec<Bytes> = download.content.try_collect().await.unwrap();
    assert_eq!(bytes.concat(), b"second version");
    let second_tag = download.revision.content_hash().to_hex();
    let download = env
        .files
        .download(&me, "/doc.txt", None, request(vec![], Some(second_tag)))
        .await
        .unwrap()
        .into_download()
        .unwrap();
    assert_eq!(download.range, (0, 5), "a current If-Range keeps the range");
    let served = env
        .files
        .download(
            &me,
            "/doc.txt",
            None,
            ReadRequest {
                not_modified_if: Some(RevisionTest::new(|_| true)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(served, Served::NotModified(..)));
}

#[tokio::test]
async fn garbage_collection_frees_only_what_nothing_needs() {
    let (env, me) = setup().await;
    env.upload(&me, "/keep.txt", b"keep").await;
    env.upload(&me, "/old.txt", b"old version").await;
    env.upload_with(&me, "/old.txt", b"new version", UploadMode::Overwrite)
        .await
        .unwrap();
    env.upload(&me, "/gone.txt", b"gone").await;
    env.files.delete(&me, "/gone.txt").await.unwrap();
    assert_eq!(env.blobs.len(), 4);

    let mut reports = Vec::new();
    let report = env
        .files
        .collect_garbage(&mut |p| reports.push(p))
        .await
        .unwrap();
    assert_eq!(
        report,
        super::GcReport::default(),
        "nothing is old enough yet"
    );

    env.clock
        .advance(env.storage.trash_retention + chrono::Duration::seconds(1));
    let report = env
        .files
        .collect_garbage(&mut |p| reports.push(p))
        .await
        .unwrap();
    assert_eq!(report.trash_purged, 1);
    assert_eq!(report.revisions_pruned, 1, "the replaced 'old version'");
    assert_eq!(report.blocks_deleted, 2);
    assert!(!reports.is_empty(), "progress was reported");
    assert_eq!(env.blobs.len(), 2);
    assert_eq!(env.download(&me, "/keep.txt").await.unwrap(), b"keep");
    assert_eq!(env.download(&me, "/old.txt").await.unwrap(), b"new version");
}

#[tokio::test]
async fn a_block_touched_within_the_grace_period_survives_collection() {
    let (env, me) = setup().await;
    env.upload(&me, "/x.txt", b"shared content").await;
    env.files.delete(&me, "/x.txt").await.unwrap();
    let trash = env.files.list_trash(&me, None, 1).await.unwrap();
    env.files
        .delete_permanently(&me, trash.items[0].node.id)
        .await
        .unwrap();
    env.clock
        .advance(env.storage.block_grace + chrono::Duration::seconds(1));
    // An upload of the same bytes re-touches the block just before collection runs.
    env.upload(&me, "/again.txt", b"shared content").await;
    env.files.collect_garbage(&mut |_| {}).await.unwrap();
    assert_eq!(
        env.download(&me, "/again.txt").await.unwrap(),
        b"shared content"
    );
}

#[tokio::test]
async fn emptying_the_trash_counts_every_listed_item() {
    let (env, me) = setup().await;
    env.upload(&me, "/F/inner.txt", b"i").await;
    env.files.delete(&me, "/F/inner.txt").await.unwrap();
    env.clock.advance(chrono::Duration::seconds(1));
    env.files.delete(&me, "/F").await.unwrap();
    assert_eq!(
        env.files
            .list_trash(&me, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(env.files.empty_trash(&me).await.unwrap(), 2);
    assert_eq!(env.store.node_count(), 0);
}

#[tokio::test]
async fn every_change_is_journaled_in_order_with_where_it_was() {
    let (env, me) = setup().await;
    let created = env.upload(&me, "/A/doc.txt", b"v1").await;
    env.upload_with(&me, "/A/doc.txt", b"v2", UploadMode::Overwrite)
        .await
        .unwrap();
    env.upload_with(&me, "/A/doc.txt", b"v2", UploadMode::Overwrite)
        .await
        .unwrap();
    env.files
        .move_entry(&me, "/A/doc.txt", "/B/moved.txt", false)
        .await
        .unwrap();
    env.files.copy_entry(&me, "/B", "/C", false).await.unwrap();
    env.files.delete(&me, "/C").await.unwrap();
    let trash = env.files.list_trash(&me, None, 1).await.unwrap();
    env.files
        .restore(&me, trash.items[0].node.id, true)
        .await
        .unwrap();
    let journal: Vec<(u64, String)> = env
        .store
        .changes()
        .into_iter()
        .map(|c| {
            (
                c.seq,
                c.path_before
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
            )
        })
        .collect();
    let expected = [
        (1, "-"),          // folder /A, created for the upload
        (2, "-"),          // /A/doc.txt created
        (3, "/A/doc.txt"), // a new revision (the identical re-upload records nothing)
        (4, "-"),          // folder /B, created for the move
        (5, "/A/doc.txt"), // moved
        (6, "-"),          // the copy /C
        (7, "/C"),         // trashed
        (8, "-"),          // restored
    ]
    .map(|(seq, path)| (seq, path.to_owned()));
    assert_eq!(journal, expected);
    let doc = created.entry().node.id;
    let changes = env.store.changes();
    assert_eq!((changes[1].node, changes[4].node), (doc, doc));
}

#[tokio::test]
async fn a_download_fails_before_answering_when_the_block_store_cannot_serve_its_first_block() {
    let (env, me) = setup().await;
    env.upload(&me, "/f.bin", &data(BLOCK_SIZE + 10, 3)).await;
    env.blobs.fail_with(Some(crate::FailureKind::Unavailable));
    let download = env
        .files
        .download(&me, "/f.bin", None, ReadRequest::default())
        .await;
    match download {
        Err(AppError::Infrastructure(err)) => {
            assert_eq!(err.kind(), crate::FailureKind::Unavailable)
        }
        Err(other) => panic!("unexpected {other:?}"),
        Ok(_) => panic!("a download began although its first block cannot be read"),
    }
    let ranged = env
        .files
        .download(
            &me,
            "/f.bin",
            None,
            ranged(RangeRequest::From {
                start: BLOCK_SIZE as u64,
                end: None,
            }),
        )
        .await;
    assert!(ranged.is_err(), "a range is probed at its own first block");
    env.blobs.fail_with(None);
    assert_eq!(
        env.download(&me, "/f.bin").await.unwrap(),
        data(BLOCK_SIZE + 10, 3)
    );
}

#[tokio::test]
async fn store_failures_keep_their_kind_up_to_the_use_case() {
    let (env, me) = setup().await;
    for kind in [
        crate::FailureKind::StorageFull,
        crate::FailureKind::Unavailable,
    ] {
        env.blobs.fail_with(Some(kind));
        match env
            .upload_with(&me, "/full.bin", b"bytes", UploadMode::Add)
            .await
        {
            Err(AppError::Infrastructure(err)) => assert_eq!(err.kind(), kind),
            other => panic!("unexpected {other:?}"),
        }
    }
    env.blobs.fail_with(None);
    env.upload(&me, "/full.bin", b"bytes").await;
}

#[tokio::test]
async fn garbage_collection_sweeps_the_debris_of_unfinished_writes() {
    let (env, _me) = setup().await;
    env.blobs.leave_debris(crate::ports::Clock::now(&env.clock));
    let report = env.files.collect_garbage(&mut |_| {}).await.unwrap();
    assert_eq!(
        report.debris_swept, 0,
        "debris within the grace may be a write in flight"
    );
    env.clock
        .advance(env.storage.block_grace + chrono::Duration::seconds(1));
    let report = env.files.collect_garbage(&mut |_| {}).await.unwrap();
    assert_eq!(report.debris_swept, 1);
    assert_eq!(env.blobs.debris(), 0);
}

#[tokio::test]
async fn reads_are_done_once_more_when_a_database_connection_broke_under_them() {
    let (env, me) = setup().await;
    env.upload(&me, "/f.txt", b"content").await;
    env.store.break_reads(1);
    assert_eq!(env.download(&me, "/f.txt").await.unwrap(), b"content");
    env.store.break_reads(1);
    env.files.metadata(&me, "/f.txt").await.unwrap();

    // Only once: a database that keeps failing is unavailable.
    env.store.break_reads(2);
    match env
        .files
        .download(&me, "/f.txt", None, ReadRequest::default())
        .await
    {
        Err(AppError::Infrastructure(err)) => {
            assert_eq!(err.kind(), crate::FailureKind::Unavailable)
        }
        Err(other) => panic!("unexpected {other:?}"),
        Ok(_) => panic!("a second broken connection is not retried"),
    }
}
