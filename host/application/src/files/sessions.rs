//! Upload sessions: resumable uploads, whose bytes arrive over several appends (tus), and
//! delta uploads, which declare a file's block list and send only the blocks the server needs.
//!
//! Both keep their state in the database (the session and its blocks) and the blob store (the
//! blocks' bytes), so any server instance can continue a session, also after a restart. A
//! stream append stores each full block and records it at once; a partial last block is stored
//! too and rewritten, joined with the next bytes, by the next append. Both commit through the
//! same step as a plain upload (plugins, quota, write mode), from the block list: nothing is
//! reassembled.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use coffer_domain::Timestamp;
use coffer_domain::files::{
    AppendRefused, BLOCK_SIZE, BlockHash, Checksum, ExpectedChecksum, SessionBlock, SessionKind,
    UploadId, UploadSession, block_count, block_size_at,
};
use futures_util::{StreamExt, TryStreamExt};

use super::upload::{Destination, FileDetails, StoredFile};
use super::{Files, UploadMode, UploadOutcome};
use crate::ports::{ByteStream, ContentError};
use crate::{AppError, Principal};

/// Input of a new upload session, as received.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Where the file goes (missing parent folders are created at commit).
    pub path: String,
    /// What to do if a file is there at commit.
    pub mode: UploadMode,
    /// On conflict, store under a free numbered name instead of failing.
    pub autorename: bool,
    /// The file's modification time on the client.
    pub client_modified: Option<Timestamp>,
    /// The media type the client declared.
    pub media_type: Option<String>,
    /// The file's length in bytes.
    pub length: u64,
}

/// What an append did.
#[derive(Debug)]
pub struct Appended {
    /// The session afterwards.
    pub session: UploadSession,
    /// The file, if this append completed the upload and committed it.
    pub outcome: Option<UploadOutcome>,
}

/// A delta upload, started.
#[derive(Debug)]
pub struct DeltaStarted {
    /// The session.
    pub session: UploadSession,
    /// The blocks the client must send (each once, in file order): every declared block that
    /// is not in a file the caller can read.
    pub needed: Vec<BlockHash>,
}

/// How an append's body ended.
#[derive(Debug, Default)]
enum BodyEnd {
    /// Still streaming (or not started).
    #[default]
    Open,
    /// All of it arrived; the checksum of it, when one was asked for.
    Complete(Option<Vec<u8>>),
    /// The client's stream failed after some bytes.
    Interrupted(String),
    /// It went on past the upload's length (the bytes up to the length were kept).
    PastLength,
}

/// Wraps an append's body: stops at the upload's remaining length, turns the client's failure
/// into a clean end (so the bytes received so far are stored), and checksums it if asked.
fn guarded_body(
    content: ByteStream,
    remaining: u64,
    checksum: Option<Checksum>,
    end: Arc<Mutex<BodyEnd>>,
) -> ByteStream {
    struct Guard {
        content: ByteStream,
        remaining: u64,
        checksum: Option<Checksum>,
        end: Arc<Mutex<BodyEnd>>,
        done: bool,
    }
    let guard = Guard {
        content,
        remaining,
        checksum,
        end,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(
        guard,
        |mut guard| async move {
            if guard.done {
                return None;
            }
            let set_end = |end: &Arc<Mutex<BodyEnd>>, value| *end.lock().expect("body end") = value;
            match guard.content.next().await {
                Some(Ok(mut chunk)) => {
                    if chunk.len() as u64 > guard.remaining {
                        chunk.truncate(guard.remaining as usize);
                        set_end(&guard.end, BodyEnd::PastLength);
                        guard.done = true;
                    }
                    guard.remaining -= chunk.len() as u64;
                    if let Some(checksum) = guard.checksum.as_mut() {
                        checksum.update(&chunk);
                    }
                    Some((Ok::<Bytes, ContentError>(chunk), guard))
                }
                Some(Err(ContentError::Source(why))) => {
                    set_end(&guard.end, BodyEnd::Interrupted(why));
                    None
                }
                Some(Err(storage)) => {
                    guard.done = true;
                    Some((Err(storage), guard))
                }
                None => {
                    let digest = guard.checksum.take().map(Checksum::finish);
                    set_end(&guard.end, BodyEnd::Complete(digest));
                    None
                }
            }
        },
    ))
}

impl Files {
    /// Starts a resumable upload of `input.length` bytes. Nothing is read yet; the quota must
    /// hold the file on top of the caller's other open sessions.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn start_resumable(
        &self,
        caller: &Principal,
        input: NewSession,
    ) -> Result<UploadSession, AppError> {
        let destination = Destination::parse(&input.path, &input.mode)?;
        let session = self
            .open_session(caller, input, destination, SessionKind::Stream, Vec::new())
            .await?;
        if !session.is_complete() {
            return Ok(session);
        }
        // An empty file has all its bytes at creation: it is committed now, as the last append
        // of a longer one would be.
        let outcome = self.finish_session(caller, &session).await?;
        let node = &outcome.entry().node;
        Ok(UploadSession {
            committed: node.file.as_ref().map(|file| (node.id, file.revision)),
            ..session
        })
    }

    /// The caller's upload session (for `HEAD`: how far it has arrived).
    pub async fn upload_session(
        &self,
        caller: &Principal,
        id: UploadId,
    ) -> Result<UploadSession, AppError> {
        self.own_session(caller, id, None).await
    }

    /// Appends `content` to a resumable upload at `offset`, which must be where the upload is.
    ///
    /// Without a checksum, each block is recorded as soon as it is stored, and if the client's
    /// stream fails, the bytes received so far are stored and recorded too: the upload resumes
    /// exactly where the bytes stopped. With a checksum of the whole body, the body is held in
    /// scratch space until it is complete and matches; only then is it stored and recorded, at
    /// once. When the last byte arrives the
    /// file is committed as by [`Files::upload`].
    #[tracing::instrument(skip_all, fields(user = %caller.user_id, upload = %id))]
    pub async fn append(
        &self,
        caller: &Principal,
        id: UploadId,
        offset: u64,
        body_length: Option<u64>,
        content: ByteStream,
        checksum: Option<ExpectedChecksum>,
    ) -> Result<Appended, AppError> {
        let session = self
            .own_session(caller, id, Some(SessionKind::Stream))
            .await?;
        session
            .check_append(offset, body_length)
            .map_err(|refused| match refused {
                AppendRefused::WrongOffset { offset } => AppError::UploadOffsetMismatch { offset },
                AppendRefused::PastLength { length } => AppError::TooLarge(format!(
                    "the body would take the upload past its length of {length} bytes"
                )),
            })?;
        if session.committed.is_some() {
            return Ok(Appended {
                session,
                outcome: None,
            });
        }

        let (position, partial) = session.resume_point();
        let end = Arc::new(Mutex::new(BodyEnd::Open));
        let body = guarded_body(
            content,
            session.length - session.received,
            checksum.as_ref().map(ExpectedChecksum::start),
            end.clone(),
        );
        // A body under a checksum is held in scratch space until it has all arrived and
        // matches: wrong bytes are never stored, so repeating them cannot fill the store. An
        // incomplete one cannot be checked: none of it is kept.
        let body = match &checksum {
            None => Some(body),
            Some(expected) => {
                let held = self.ports.scratch.hold(body).await?;
                match &*end.lock().expect("body end") {
                    BodyEnd::Complete(Some(actual)) if !expected.matches(actual) => {
                        return Err(AppError::ChecksumMismatch);
                    }
                    BodyEnd::Complete(_) => Some(held),
                    _ => None,
                }
            }
        };
        let mut recorded = session.received;
        if let Some(body) = body {
            // A partial last block is read back (only now: a store's read must not wait on the
            // client) and joined with the new bytes.
            let prefix = self.partial_tail(id, position, partial).await?;
            // One block at a time, each recorded before the next is stored: a write
            // transaction of the recording must never wait for one that a suspended store step
            // holds open (SQLite has one writer). Reading and hashing still run ahead on their
            // own threads.
            let mut blocks = self
                .ports
                .block_hasher
                .hash_blocks(Box::pin(prefix.chain(body)));
            let mut next_position = position;
            let mut pending: Vec<SessionBlock> = Vec::new();
            while let Some(block) = blocks.try_next().await? {
                let (hash, size) = self.store_block(block).await?;
                pending.push(SessionBlock {
                    hash,
                    size: size as u32,
                    present: true,
                });
                if checksum.is_none() {
                    recorded = self
                        .record_append(&session, recorded, next_position, &pending)
                        .await?;
                    next_position += pending.len() as u64;
                    pending.clear();
                }
            }
            if checksum.is_some() {
                // Checked already: recorded whole.
                recorded = self
                    .record_append(&session, recorded, next_position, &pending)
                    .await?;
            }
        }
        let end = std::mem::take(&mut *end.lock().expect("body end"));
        match end {
            BodyEnd::Interrupted(why) => {
                tracing::info!(received = recorded, "append interrupted; kept what arrived");
                return Err(AppError::UploadInterrupted(why));
            }
            BodyEnd::PastLength => {
                return Err(AppError::TooLarge(format!(
                    "the body went past the upload's length of {} bytes; the first {} were kept",
                    session.length, recorded
                )));
            }
            BodyEnd::Open | BodyEnd::Complete(_) => {}
        }
        let session = UploadSession {
            received: recorded,
            ..session
        };
        if !session.is_complete() {
            return Ok(Appended {
                session,
                outcome: None,
            });
        }
        let outcome = self.finish_session(caller, &session).await?;
        let node = &outcome.entry().node;
        let session = UploadSession {
            committed: node.file.as_ref().map(|file| (node.id, file.revision)),
            ..session
        };
        Ok(Appended {
            session,
            outcome: Some(outcome),
        })
    }

    /// The bytes of an upload's partial last block (`partial` bytes at block `position`), to
    /// be joined with the next append; nothing when the last block is full.
    async fn partial_tail(
        &self,
        id: UploadId,
        position: u64,
        partial: u32,
    ) -> Result<ByteStream, AppError> {
        if partial == 0 {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let tail = {
            let mut tx = self.ports.uow.begin_read().await?;
            tx.uploads().blocks(id).await?
        }
        .get(position as usize)
        .copied()
        .filter(|b| b.size == partial)
        .ok_or_else(|| {
            AppError::Infrastructure(crate::InfrastructureError::msg(
                "an upload session's partial block is not recorded",
            ))
        })?;
        Ok(self
            .ports
            .blobs
            .read(&tail.hash, 0, u64::from(partial))
            .await?)
    }

    /// Records appended blocks from `position` on, if the session is still at `from` bytes;
    /// returns the bytes received now.
    async fn record_append(
        &self,
        session: &UploadSession,
        from: u64,
        position: u64,
        blocks: &[SessionBlock],
    ) -> Result<u64, AppError> {
        let received =
            position * BLOCK_SIZE as u64 + blocks.iter().map(|b| u64::from(b.size)).sum::<u64>();
        let expires_at = self.ports.clock.now() + self.rules.upload_expiry;
        let mut tx = self.ports.uow.begin().await?;
        let moved = tx
            .uploads()
            .append(session.id, from, position, blocks, received, expires_at)
            .await?;
        if !moved {
            // Another append (another request, maybe on another server) moved the session.
            let offset = tx
                .uploads()
                .get(session.id)
                .await?
                .map_or(from, |s| s.received);
            return Err(AppError::UploadOffsetMismatch { offset });
        }
        tx.commit().await?;
        Ok(received)
    }

    /// Starts a delta upload of a file of `input.length` bytes made of `blocks` (SHA-256 hex,
    /// in order). The answer lists the blocks to send: a block counts as known only if it is
    /// in a file the caller can read, so the answer reveals nothing about other people's files.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn start_delta(
        &self,
        caller: &Principal,
        input: NewSession,
        blocks: &[String],
    ) -> Result<DeltaStarted, AppError> {
        let destination = Destination::parse(&input.path, &input.mode)?;
        let hashes = blocks
            .iter()
            .map(|raw| BlockHash::parse(raw))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| AppError::Invalid {
                field: "blocks",
                reason: "must be SHA-256 digests, 64 hexadecimal characters each".into(),
            })?;
        let expected = block_count(input.length);
        if hashes.len() as u64 != expected {
            return Err(AppError::Invalid {
                field: "blocks",
                reason: format!(
                    "a file of {} bytes has {expected} blocks of 4 MiB, not {}",
                    input.length,
                    hashes.len()
                ),
            });
        }
        let unique: Vec<BlockHash> = hashes
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut known: HashMap<BlockHash, u32> = HashMap::new();
        {
            let (mut tx, access) = self.read_access(caller.user_id).await?;
            for namespace in access.namespaces() {
                known.extend(tx.blocks().in_namespace(namespace, &unique).await?);
            }
        }
        let mut rows = Vec::with_capacity(hashes.len());
        let mut needed = Vec::new();
        for (position, hash) in hashes.into_iter().enumerate() {
            let size = block_size_at(input.length, position as u64).unwrap_or_default();
            let present = match known.get(&hash) {
                Some(&stored) if stored != size => {
                    return Err(AppError::Invalid {
                        field: "blocks",
                        reason: format!(
                            "block {position} ({hash}) has {stored} bytes, but that position \
                             holds {size}"
                        ),
                    });
                }
                Some(_) => true,
                None => {
                    if !needed.contains(&hash) {
                        needed.push(hash);
                    }
                    false
                }
            };
            rows.push(SessionBlock {
                hash,
                size,
                present,
            });
        }
        let session = self
            .open_session(caller, input, destination, SessionKind::Blocks, rows)
            .await?;
        tracing::info!(upload = %session.id, needed = needed.len(), "delta upload started");
        Ok(DeltaStarted { session, needed })
    }

    /// Receives one block of a delta upload; it must hash to `hash`, which the upload declared.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id, upload = %id))]
    pub async fn put_block(
        &self,
        caller: &Principal,
        id: UploadId,
        hash: &str,
        content: ByteStream,
    ) -> Result<(), AppError> {
        let hash = BlockHash::parse(hash)?;
        let session = self
            .own_session(caller, id, Some(SessionKind::Blocks))
            .await?;
        if session.committed.is_some() {
            return Err(AppError::NotAllowed("this upload is committed already"));
        }
        let declared = {
            let mut tx = self.ports.uow.begin_read().await?;
            tx.uploads().blocks(id).await?
        };
        let Some(size) = declared.iter().find(|b| b.hash == hash).map(|b| b.size) else {
            return Err(AppError::Invalid {
                field: "hash",
                reason: "is not a block of this upload".into(),
            });
        };
        // The block is hashed in memory (it is at most one block) and checked before anything
        // of it is stored or indexed: wrong bytes leave nothing behind.
        let limit = u64::from(size);
        let wrong_size = |arrived: &str| AppError::Invalid {
            field: "body",
            reason: format!("this block has {limit} bytes; {arrived} arrived"),
        };
        let mut blocks = self.ports.block_hasher.hash_blocks(content);
        let block = blocks.try_next().await?.ok_or_else(|| wrong_size("none"))?;
        if u64::from(block.len) > limit || blocks.try_next().await?.is_some() {
            return Err(wrong_size("more"));
        }
        drop(blocks);
        if block.hash != hash {
            return Err(AppError::ContentHashMismatch {
                expected: hash.to_hex(),
                actual: block.hash.to_hex(),
            });
        }
        if u64::from(block.len) != limit {
            return Err(wrong_size(&block.len.to_string()));
        }
        self.store_block(block).await?;
        let expires_at = self.ports.clock.now() + self.rules.upload_expiry;
        let mut tx = self.ports.uow.begin().await?;
        tx.uploads().mark_present(id, &hash, expires_at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Commits a delta upload once every declared block is present.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id, upload = %id))]
    pub async fn commit_delta(
        &self,
        caller: &Principal,
        id: UploadId,
    ) -> Result<UploadOutcome, AppError> {
        let session = self
            .own_session(caller, id, Some(SessionKind::Blocks))
            .await?;
        if let Some((node, _)) = session.committed {
            // Committed by an earlier request whose answer was lost: the same file again.
            let entry = self.metadata(caller, &format!("id:{node}")).await?;
            return Ok(UploadOutcome::Unchanged(entry));
        }
        self.finish_session(caller, &session).await
    }

    /// Ends an upload session and lets its stored blocks be collected.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id, upload = %id))]
    pub async fn cancel_upload(&self, caller: &Principal, id: UploadId) -> Result<(), AppError> {
        self.own_session(caller, id, None).await?;
        let mut tx = self.ports.uow.begin().await?;
        tx.uploads().delete(id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_session(
        &self,
        caller: &Principal,
        input: NewSession,
        destination: Destination,
        kind: SessionKind,
        blocks: Vec<SessionBlock>,
    ) -> Result<UploadSession, AppError> {
        let preflight = self.preflight(caller, &destination).await?;
        let now = self.ports.clock.now();
        let open = {
            let mut tx = self.ports.uow.begin_read().await?;
            tx.uploads().open_length_of(caller.user_id, now).await?
        };
        preflight.check_length(input.length.saturating_add(open))?;
        let session = UploadSession {
            id: UploadId::from_uuid(self.ports.ids.new_id()),
            owner: caller.user_id,
            kind,
            path: destination.path,
            mode: destination.mode,
            autorename: input.autorename,
            client_modified: input.client_modified,
            media_type: input.media_type,
            length: input.length,
            received: 0,
            created_at: now,
            expires_at: now + self.rules.upload_expiry,
            committed: None,
        };
        let mut tx = self.ports.uow.begin().await?;
        tx.uploads().insert(&session, &blocks).await?;
        tx.commit().await?;
        tracing::info!(upload = %session.id, length = session.length, ?kind, "upload session opened");
        Ok(session)
    }

    /// The caller's live session (of `kind`, if given); anyone else's, or an expired one, is
    /// not found.
    async fn own_session(
        &self,
        caller: &Principal,
        id: UploadId,
        kind: Option<SessionKind>,
    ) -> Result<UploadSession, AppError> {
        let session = {
            let mut tx = self.ports.uow.begin_read().await?;
            tx.uploads().get(id).await?
        };
        session
            .filter(|s| s.owner == caller.user_id)
            .filter(|s| !s.is_expired(self.ports.clock.now()))
            .filter(|s| kind.is_none_or(|k| s.kind == k))
            .ok_or(AppError::NotFound("upload"))
    }

    /// Commits a session whose blocks are all present, as a plain upload commits. A refusal
    /// (conflict, quota, plugin) ends the session; a failure of the server keeps it, so the
    /// commit can be tried again.
    async fn finish_session(
        &self,
        caller: &Principal,
        session: &UploadSession,
    ) -> Result<UploadOutcome, AppError> {
        let blocks = {
            let mut tx = self.ports.uow.begin_read().await?;
            tx.uploads().blocks(session.id).await?
        };
        let missing: BTreeSet<BlockHash> = blocks
            .iter()
            .filter(|b| !b.present)
            .map(|b| b.hash)
            .collect();
        if !missing.is_empty() {
            return Err(AppError::BlocksMissing {
                missing: missing.len() as u64,
            });
        }
        let size: u64 = blocks.iter().map(|b| u64::from(b.size)).sum();
        if size != session.length || blocks.len() as u64 != block_count(session.length) {
            return Err(AppError::Infrastructure(crate::InfrastructureError::msg(
                "an upload session's blocks do not add up to its length",
            )));
        }
        let destination = Destination::new(session.path.clone(), session.mode)?;
        let committed = async {
            let preflight = self.preflight(caller, &destination).await?;
            let stored = StoredFile {
                blocks: blocks.iter().map(|b| b.hash).collect(),
                size,
            };
            let details = FileDetails {
                autorename: session.autorename,
                client_modified: session.client_modified,
                media_type: session.media_type.clone(),
            };
            self.commit_file(caller, &destination, preflight, stored, details)
                .await
        }
        .await;
        match committed {
            Ok(outcome) => {
                let node = &outcome.entry().node;
                if let Some(file) = &node.file {
                    let mut tx = self.ports.uow.begin().await?;
                    tx.uploads()
                        .mark_committed(session.id, node.id, file.revision)
                        .await?;
                    tx.commit().await?;
                }
                Ok(outcome)
            }
            Err(err @ (AppError::Infrastructure(_) | AppError::PluginFailed { .. })) => Err(err),
            Err(refused) => {
                let mut tx = self.ports.uow.begin().await?;
                tx.uploads().delete(session.id).await?;
                tx.commit().await?;
                Err(refused)
            }
        }
    }
}
