//! Use-case tests of resumable and delta uploads, on the in-memory fakes.

use bytes::Bytes;
use coffer_domain::account::SignupPolicy;
use coffer_domain::files::{BLOCK_SIZE, BlockHash, ContentHash, SessionKind, UploadId};

use super::{NewSession, UploadMode, UploadOutcome};
use crate::ports::{ByteStream, ContentError};
use crate::testing::TestEnv;
use crate::{AppError, Principal};

const BLOCK: usize = BLOCK_SIZE;

async fn setup() -> (TestEnv, Principal) {
    let env = TestEnv::new(SignupPolicy::Open);
    env.member("a@example.org").await;
    let me = env.principal("a@example.org").await;
    (env, me)
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 12) as u8))
        .collect()
}

fn hashes(data: &[u8]) -> Vec<BlockHash> {
    data.chunks(BLOCK).map(BlockHash::of).collect()
}

fn hex_list(data: &[u8]) -> Vec<String> {
    hashes(data).iter().map(BlockHash::to_hex).collect()
}

fn body(bytes: &[u8]) -> ByteStream {
    // Cut into uneven chunks, as a network would.
    let chunks: Vec<Result<Bytes, ContentError>> = bytes
        .chunks(1_000_003)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

fn cut_body(bytes: &[u8]) -> ByteStream {
    Box::pin(futures_util::stream::iter([
        Ok(Bytes::copy_from_slice(bytes)),
        Err(ContentError::Source("connection reset".into())),
    ]))
}

fn new_session(path: &str, length: usize, mode: UploadMode) -> NewSession {
    NewSession {
        path: path.into(),
        mode,
        autorename: false,
        client_modified: None,
        media_type: Some("application/octet-stream".into()),
        length: length as u64,
    }
}

async fn start(env: &TestEnv, me: &Principal, path: &str, length: usize) -> UploadId {
    env.files
        .start_resumable(me, new_session(path, length, UploadMode::Add))
        .await
        .unwrap()
        .id
}

async fn append(
    env: &TestEnv,
    me: &Principal,
    id: UploadId,
    offset: usize,
    bytes: &[u8],
) -> Result<super::Appended, AppError> {
    env.files
        .append(
            me,
            id,
            offset as u64,
            Some(bytes.len() as u64),
            body(bytes),
            None,
        )
        .await
}

#[tokio::test]
async fn uneven_appends_make_the_same_file_as_one_upload() {
    let (env, me) = setup().await;
    let content = data(3 * BLOCK + 17, 1);
    let id = start(&env, &me, "/big.bin", content.len()).await;
    let cuts = [0, BLOCK + 3, BLOCK + 8, 3 * BLOCK - 1, content.len()];
    for pair in cuts.windows(2) {
        let appended = append(&env, &me, id, pair[0], &content[pair[0]..pair[1]])
            .await
            .unwrap();
        assert_eq!(appended.session.received, pair[1] as u64);
        assert_eq!(appended.outcome.is_some(), pair[1] == content.len());
        if let Some(outcome) = appended.outcome {
            let file = outcome.entry().node.file.clone().unwrap();
            let expected = ContentHash::of_blocks(&hashes(&content));
            assert_eq!(file.content_hash, expected);
            assert!(matches!(outcome, UploadOutcome::Created(_)));
        }
    }
    assert_eq!(env.download(&me, "/big.bin").await.unwrap(), content);
    let session = env.files.upload_session(&me, id).await.unwrap();
    assert!(session.committed.is_some() && session.is_complete());
    assert_eq!(env.store.usage_of(me.user_id), content.len() as u64);

    // The partial blocks each append rewrote are garbage once the grace period has passed; the
    // file's blocks are not.
    env.clock
        .advance(env.storage.block_grace + chrono::Duration::seconds(1));
    let report = env.files.collect_garbage(&mut |_| {}).await.unwrap();
    assert_eq!(report.blocks_deleted, 3, "three superseded partial blocks");
    assert_eq!(env.download(&me, "/big.bin").await.unwrap(), content);
}

#[tokio::test]
async fn an_append_elsewhere_than_the_offset_is_refused_with_the_offset() {
    let (env, me) = setup().await;
    let content = data(100, 2);
    let id = start(&env, &me, "/a.bin", 100).await;
    append(&env, &me, id, 0, &content[..40]).await.unwrap();
    let err = append(&env, &me, id, 30, &content[30..]).await.unwrap_err();
    assert!(
        matches!(err, AppError::UploadOffsetMismatch { offset: 40 }),
        "{err:?}"
    );
    let too_long = env
        .files
        .append(&me, id, 40, Some(61), body(&content[40..]), None)
        .await
        .unwrap_err();
    assert!(matches!(too_long, AppError::TooLarge(_)), "{too_long:?}");
    assert_eq!(
        env.files.upload_session(&me, id).await.unwrap().received,
        40
    );
}

#[tokio::test]
async fn an_interrupted_append_keeps_every_byte_that_arrived() {
    let (env, me) = setup().await;
    let content = data(2 * BLOCK + 5, 3);
    let id = start(&env, &me, "/cut.bin", content.len()).await;
    let cut = BLOCK + 10;
    let err = env
        .files
        .append(&me, id, 0, None, cut_body(&content[..cut]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::UploadInterrupted(_)), "{err:?}");
    let session = env.files.upload_session(&me, id).await.unwrap();
    assert_eq!(session.received, cut as u64);
    assert_eq!(env.store.node_count(), 0, "nothing committed");

    let done = append(&env, &me, id, cut, &content[cut..]).await.unwrap();
    assert!(done.outcome.is_some());
    assert_eq!(env.download(&me, "/cut.bin").await.unwrap(), content);
}

#[tokio::test]
async fn a_checksummed_append_is_kept_whole_or_not_at_all() {
    let (env, me) = setup().await;
    let content = data(BLOCK + 50, 4);
    let id = start(&env, &me, "/sum.bin", content.len()).await;
    let first = &content[..BLOCK + 10];
    let sha = |bytes: &[u8]| {
        use sha2::Digest;
        coffer_domain::files::ExpectedChecksum::new(
            coffer_domain::files::ChecksumAlgorithm::Sha256,
            sha2::Sha256::digest(bytes).to_vec(),
        )
        .unwrap()
    };

    let wrong = env
        .files
        .append(&me, id, 0, None, body(first), Some(sha(b"something else")))
        .await
        .unwrap_err();
    assert!(matches!(wrong, AppError::ChecksumMismatch), "{wrong:?}");
    let cut = env
        .files
        .append(&me, id, 0, None, cut_body(first), Some(sha(first)))
        .await
        .unwrap_err();
    assert!(matches!(cut, AppError::UploadInterrupted(_)), "{cut:?}");
    assert_eq!(env.files.upload_session(&me, id).await.unwrap().received, 0);
    assert!(
        env.blobs.is_empty(),
        "bytes that were not checked were stored"
    );

    let ok = env
        .files
        .append(&me, id, 0, None, body(first), Some(sha(first)))
        .await
        .unwrap();
    assert_eq!(ok.session.received, first.len() as u64);
    append(&env, &me, id, first.len(), &content[first.len()..])
        .await
        .unwrap();
    assert_eq!(env.download(&me, "/sum.bin").await.unwrap(), content);
}

#[tokio::test]
async fn bytes_past_the_length_are_refused_and_the_rest_commits() {
    let (env, me) = setup().await;
    let id = start(&env, &me, "/exact.txt", 5).await;
    let err = env
        .files
        .append(&me, id, 0, None, body(b"12345678"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::TooLarge(_)), "{err:?}");
    assert_eq!(env.files.upload_session(&me, id).await.unwrap().received, 5);
    // An empty append at the end commits what was kept.
    let done = append(&env, &me, id, 5, b"").await.unwrap();
    assert!(done.outcome.is_some());
    assert_eq!(env.download(&me, "/exact.txt").await.unwrap(), b"12345");
}

#[tokio::test]
async fn sessions_are_private_and_expire_and_their_blocks_are_collected() {
    let (env, me) = setup().await;
    env.member("b@example.org").await;
    let other = env.principal("b@example.org").await;
    let content = data(BLOCK + 1, 5);
    let id = start(&env, &me, "/mine.bin", content.len()).await;
    append(&env, &me, id, 0, &content[..BLOCK]).await.unwrap();

    for attempt in [
        env.files.upload_session(&other, id).await.map(|_| ()),
        append(&env, &other, id, BLOCK, &content[BLOCK..])
            .await
            .map(|_| ()),
        env.files.cancel_upload(&other, id).await,
    ] {
        assert!(matches!(attempt, Err(AppError::NotFound(_))), "{attempt:?}");
    }

    // Past the grace period but not the expiry, the session's blocks are safe.
    env.clock
        .advance(env.storage.block_grace + chrono::Duration::seconds(1));
    let report = env.files.collect_garbage(&mut |_| {}).await.unwrap();
    assert_eq!(report.blocks_deleted, 0);

    env.clock
        .advance(env.storage.upload_expiry + chrono::Duration::seconds(1));
    assert!(matches!(
        env.files.upload_session(&me, id).await,
        Err(AppError::NotFound(_))
    ));
    let report = env.files.collect_garbage(&mut |_| {}).await.unwrap();
    assert_eq!(report.uploads_expired, 1);
    assert_eq!(report.blocks_deleted, 1);
    assert!(env.blobs.is_empty());
}

#[tokio::test]
async fn cancelling_ends_the_session() {
    let (env, me) = setup().await;
    let id = start(&env, &me, "/gone.txt", 10).await;
    env.files.cancel_upload(&me, id).await.unwrap();
    assert!(matches!(
        append(&env, &me, id, 0, b"0123456789").await,
        Err(AppError::NotFound(_))
    ));
}

#[tokio::test]
async fn open_sessions_count_against_the_quota() {
    let env = TestEnv::new(SignupPolicy::Open);
    let me = env.member_with_quota("a@example.org", 10).await;
    let first = start(&env, &me, "/one.txt", 6).await;
    let err = env
        .files
        .start_resumable(&me, new_session("/two.txt", 6, UploadMode::Add))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::QuotaExceeded { needed: 12, .. }),
        "{err:?}"
    );
    env.files.cancel_upload(&me, first).await.unwrap();
    start(&env, &me, "/two.txt", 6).await;
}

#[tokio::test]
async fn a_refused_commit_ends_the_session() {
    let (env, me) = setup().await;
    env.upload(&me, "/taken.txt", b"already here").await;
    let id = start(&env, &me, "/taken.txt", 5).await;
    let err = append(&env, &me, id, 0, b"other").await.unwrap_err();
    assert!(matches!(err, AppError::Conflict(..)), "{err:?}");
    assert!(matches!(
        env.files.upload_session(&me, id).await,
        Err(AppError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_delta_upload_sends_only_the_changed_block() {
    let (env, me) = setup().await;
    let old = data(3 * BLOCK + 100, 6);
    env.upload(&me, "/disk.img", &old).await;
    let mut new = old.clone();
    new[BLOCK + 7] ^= 0xff;

    let mut input = new_session("/disk.img", new.len(), UploadMode::Overwrite);
    input.media_type = None;
    let started = env
        .files
        .start_delta(&me, input, &hex_list(&new))
        .await
        .unwrap();
    assert_eq!(started.session.kind, SessionKind::Blocks);
    assert_eq!(started.needed, vec![BlockHash::of(&new[BLOCK..2 * BLOCK])]);
    let id = started.session.id;

    let early = env.files.commit_delta(&me, id).await.unwrap_err();
    assert!(
        matches!(early, AppError::BlocksMissing { missing: 1 }),
        "{early:?}"
    );
    let hash = started.needed[0].to_hex();
    let (indexed, stored) = (env.store.block_count(), env.blobs.len());
    for seed in [41, 42] {
        let wrong = env
            .files
            .put_block(&me, id, &hash, body(&data(BLOCK, seed)))
            .await
            .unwrap_err();
        assert!(
            matches!(wrong, AppError::ContentHashMismatch { .. }),
            "{wrong:?}"
        );
    }
    assert_eq!(
        (env.store.block_count(), env.blobs.len()),
        (indexed, stored),
        "wrong bytes are neither stored nor indexed"
    );
    env.files
        .put_block(&me, id, &hash, body(&new[BLOCK..2 * BLOCK]))
        .await
        .unwrap();
    let outcome = env.files.commit_delta(&me, id).await.unwrap();
    assert!(matches!(outcome, UploadOutcome::Replaced(_)), "{outcome:?}");
    assert_eq!(env.download(&me, "/disk.img").await.unwrap(), new);
    // Committing again (an answer lost on the way) names the same file.
    let again = env.files.commit_delta(&me, id).await.unwrap();
    assert_eq!(again.entry().node.id, outcome.entry().node.id);
}

#[tokio::test]
async fn a_delta_upload_is_no_oracle_for_other_peoples_blocks() {
    let (env, me) = setup().await;
    env.member("b@example.org").await;
    let other = env.principal("b@example.org").await;
    let secret = data(BLOCK + 20, 7);
    env.upload(&other, "/secret.bin", &secret).await;

    let started = env
        .files
        .start_delta(
            &me,
            new_session("/guess.bin", secret.len(), UploadMode::Add),
            &hex_list(&secret),
        )
        .await
        .unwrap();
    assert_eq!(started.needed, hashes(&secret), "both blocks are asked for");
    for (hash, bytes) in started.needed.iter().zip(secret.chunks(BLOCK)) {
        env.files
            .put_block(&me, started.session.id, &hash.to_hex(), body(bytes))
            .await
            .unwrap();
    }
    env.files
        .commit_delta(&me, started.session.id)
        .await
        .unwrap();
    assert_eq!(env.download(&me, "/guess.bin").await.unwrap(), secret);
}

#[tokio::test]
async fn a_delta_upload_refuses_lists_that_cannot_be_the_file() {
    let (env, me) = setup().await;
    env.upload(&me, "/small.txt", b"small").await;
    let small = BlockHash::of(b"small").to_hex();
    let wrong_count = env
        .files
        .start_delta(&me, new_session("/x", 10, UploadMode::Add), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong_count,
            AppError::Invalid {
                field: "blocks",
                ..
            }
        ),
        "{wrong_count:?}"
    );
    // A known 5-byte block cannot be the first, full block of a larger file.
    let wrong_size = env
        .files
        .start_delta(
            &me,
            new_session("/x", BLOCK + 5, UploadMode::Add),
            &[small.clone(), small.clone()],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong_size,
            AppError::Invalid {
                field: "blocks",
                ..
            }
        ),
        "{wrong_size:?}"
    );
    let not_hex = env
        .files
        .start_delta(&me, new_session("/x", 5, UploadMode::Add), &["zz".into()])
        .await
        .unwrap_err();
    assert!(matches!(not_hex, AppError::Invalid { .. }), "{not_hex:?}");
    // The same known block as a whole file needs nothing sent.
    let copy = env
        .files
        .start_delta(&me, new_session("/copy.txt", 5, UploadMode::Add), &[small])
        .await
        .unwrap();
    assert!(copy.needed.is_empty());
    env.files.commit_delta(&me, copy.session.id).await.unwrap();
    assert_eq!(env.download(&me, "/copy.txt").await.unwrap(), b"small");
}
