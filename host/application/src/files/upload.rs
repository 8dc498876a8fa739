//! Upload: stream the content into blocks, then commit the file in one short transaction.

use std::collections::BTreeSet;

use coffer_domain::Timestamp;
use coffer_domain::account::ByteCount;
use coffer_domain::files::{
    BlockHash, ContentHash, Node, NodeId, NodeKind, NodeName, NodePath, Revision, RevisionId,
    WriteMode, WriteOutcome,
};
use coffer_domain::sharing::Need;
use futures_util::TryStreamExt;
use std::sync::Arc;

use super::locate::{Located, Room};
use super::{Entry, Files, Target};
use crate::ports::{
    ActorFacts, BlobStore, ByteStream, HashedBlock, QuotaQuestion, Transaction,
    UploadContentReader, UploadFacts,
};
use crate::{AppError, Principal};

/// How an upload treats a file already at the path (the `rev` of `Update` is as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadMode {
    /// Never replace (the default).
    Add,
    /// Always replace.
    Overwrite,
    /// Replace only if this is the current revision.
    Update(String),
}

/// Input of [`Files::upload`], as received.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Where to put the file (missing parent folders are created).
    pub path: String,
    /// What to do if a file is there.
    pub mode: UploadMode,
    /// On conflict, store under a free numbered name (`report (1).pdf`) instead of failing.
    pub autorename: bool,
    /// The file's modification time on the client.
    pub client_modified: Option<Timestamp>,
    /// The media type the client declared.
    pub media_type: Option<String>,
    /// The content hash the client expects; on mismatch nothing is stored.
    pub content_hash: Option<String>,
    /// The length the client announced, if any (lets an over-quota upload fail before its
    /// body is read).
    pub length: Option<u64>,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// A new file.
    Created(Entry),
    /// A new revision of the file at the path.
    Replaced(Entry),
    /// The file already had this content: nothing changed.
    Unchanged(Entry),
}

impl UploadOutcome {
    /// The file as it is now.
    pub fn entry(&self) -> &Entry {
        match self {
            Self::Created(e) | Self::Replaced(e) | Self::Unchanged(e) => e,
        }
    }
}

/// Blocks as they are stored: hash and length, in content order.
pub(crate) type StoredBlocks =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<(BlockHash, u64), AppError>> + Send>>;

/// Most block writes of one upload in flight at once.
const PUTS_IN_FLIGHT: usize = 4;

/// Where an upload goes and what it does to a file already there, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub path: NodePath,
    pub name: NodeName,
    pub mode: WriteMode,
}

impl Destination {
    pub(crate) fn parse(path: &str, mode: &UploadMode) -> Result<Self, AppError> {
        let path = NodePath::parse(path)?;
        let mode = match mode {
            UploadMode::Add => WriteMode::Add,
            UploadMode::Overwrite => WriteMode::Overwrite,
            UploadMode::Update(rev) => WriteMode::Update(RevisionId::parse_rev(rev)?),
        };
        Self::new(path, mode)
    }

    pub(crate) fn new(path: NodePath, mode: WriteMode) -> Result<Self, AppError> {
        let name = path.name().cloned().ok_or(AppError::NotAllowed(
            "the root folder cannot be uploaded to",
        ))?;
        Ok(Self { path, name, mode })
    }

    fn parent(&self) -> NodePath {
        self.path.parent().unwrap_or_default()
    }
}

/// What an upload learnt before its content arrived: the room left for it, the bytes of the
/// file it may replace, and who is uploading for whom (when plugins guard uploads).
pub(crate) struct Preflight {
    pub room: Room,
    pub replaceable: u64,
    people: Option<(ActorFacts, ActorFacts)>,
}

impl Preflight {
    /// Refuses content of `length` bytes that cannot fit, before any of it is read.
    pub(crate) fn check_length(&self, length: u64) -> Result<(), AppError> {
        Files::check_quota(self.room, length.saturating_sub(self.replaceable))
    }
}

/// Content whose blocks are all stored, ready to become a revision.
pub(crate) struct StoredFile {
    pub blocks: Vec<BlockHash>,
    pub size: u64,
}

/// A file's metadata as the uploader gave it.
pub(crate) struct FileDetails {
    pub autorename: bool,
    pub client_modified: Option<Timestamp>,
    pub media_type: Option<String>,
}

impl Files {
    /// Stores `content` at `input.path`.
    ///
    /// The body is split into blocks and hashed as it arrives; each block's bytes are stored
    /// (once for the whole installation) before the file is committed in one transaction, so a
    /// failure at any point leaves no partial file. Unreferenced blocks are collected later.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn upload(
        &self,
        caller: &Principal,
        input: Upload,
        content: ByteStream,
    ) -> Result<UploadOutcome, AppError> {
        let destination = Destination::parse(&input.path, &input.mode)?;
        let expected = input
            .content_hash
            .as_deref()
            .map(ContentHash::parse)
            .transpose()?;
        let preflight = self.preflight(caller, &destination).await?;
        if let Some(length) = input.length {
            preflight.check_length(length)?;
        }

        let ingested = self
            .ingest(content, preflight.room, preflight.replaceable)
            .await?;
        let actual = ContentHash::of_blocks(&ingested.blocks);
        if let Some(expected) = expected.filter(|e| *e != actual) {
            return Err(AppError::ContentHashMismatch {
                expected: expected.to_hex(),
                actual: actual.to_hex(),
            });
        }
        if let Some(length) = input.length.filter(|l| *l != ingested.size) {
            return Err(AppError::UploadInterrupted(format!(
                "the body had {} bytes, not the announced {length}",
                ingested.size
            )));
        }
        let details = FileDetails {
            autorename: input.autorename,
            client_modified: input.client_modified,
            media_type: input.media_type,
        };
        self.commit_file(caller, &destination, preflight, ingested, details)
            .await
    }

    /// Checks, before any content is read, that the caller may write at the destination, and
    /// learns what the commit will need. A viewer's upload is refused here.
    pub(crate) async fn preflight(
        &self,
        caller: &Principal,
        destination: &Destination,
    ) -> Result<Preflight, AppError> {
        if self.plugins.sets_quotas() {
            self.ask_quotas_before_writing(caller.user_id, &[&Target::Path(destination.parent())])
                .await;
        }
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let namespace = self
            .namespace_hint(tx.as_mut(), &access, &Target::Path(destination.parent()))
            .await?;
        access.require(namespace, Need::Write)?;
        let room = self.room_in(tx.as_mut(), &access, namespace).await?;
        // Who uploads and whose quota it uses, for the plugins that guard uploads, if any.
        let people = if self.plugins.guards_uploads() {
            let actor = self.actor_facts(tx.as_mut(), caller.user_id).await?;
            let owner_id = self.namespace(tx.as_mut(), namespace).await?.owner;
            Some((actor, self.actor_facts(tx.as_mut(), owner_id).await?))
        } else {
            None
        };
        // A file this upload may replace frees its bytes, so only growth counts.
        let replaceable = match (
            destination.mode,
            self.locate(
                tx.as_mut(),
                &access,
                &Target::Path(destination.path.clone()),
            )
            .await,
        ) {
            (WriteMode::Add, _) => 0,
            (_, Ok(Located::Entry(entry))) => entry.node.size().get(),
            _ => 0,
        };
        Ok(Preflight {
            room,
            replaceable,
            people,
        })
    }

    /// Commits content whose blocks are all stored as the file at the destination: plugins
    /// decide first, then one short transaction applies the write mode and the quota. The cost
    /// does not grow with the file's size beyond its list of blocks.
    pub(crate) async fn commit_file(
        &self,
        caller: &Principal,
        destination: &Destination,
        preflight: Preflight,
        stored: StoredFile,
        details: FileDetails,
    ) -> Result<UploadOutcome, AppError> {
        let path = &destination.path;
        let actual = ContentHash::of_blocks(&stored.blocks);
        let (room, replaceable) = (preflight.room, preflight.replaceable);
        // Plugins decide before anything is committed (and outside any transaction: a slow
        // plugin holds no lock). A refusal leaves only unreferenced blocks, which are collected.
        if let Some((actor, owner)) = preflight.people {
            let content: Arc<dyn UploadContentReader> = Arc::new(StoredContent {
                blobs: self.ports.blobs.clone(),
                blocks: stored.blocks.clone(),
                size: stored.size,
            });
            let facts = UploadFacts {
                path: path.to_string(),
                size: stored.size,
                media_type: details.media_type.clone(),
                content_hash: actual.to_hex(),
                actor: actor.clone(),
            };
            self.plugins.scan(&facts, content).await?;
            self.plugins
                .check_upload(&QuotaQuestion {
                    actor,
                    owner,
                    path: path.to_string(),
                    size: stored.size.saturating_sub(replaceable),
                    used: room.used,
                    quota: room.quota.get(),
                })
                .await?;
        }

        let parent_path = destination.parent();
        let mode = destination.mode;
        let (mut tx, access) = self
            .write_access(caller.user_id, &[&Target::Path(parent_path.clone())])
            .await?;
        let place = self
            .folder_at(tx.as_mut(), &access, &parent_path, true)
            .await?;
        access.require_write(place.namespace)?;
        let (namespace, parent, parent_path) = (place.namespace, place.folder, place.path);
        let existing = tx.nodes().child(parent, &destination.name.key()).await?;
        let now = self.ports.clock.now();
        let client_modified = details.client_modified.unwrap_or(now);
        let size = ByteCount::new(stored.size)?;

        let outcome = mode.decide(existing.as_ref(), &actual);
        let (mut node, old_size, created) = match (outcome, existing) {
            (WriteOutcome::Unchanged, Some(node)) => {
                let path = parent_path.join(node.name.clone());
                return Ok(UploadOutcome::Unchanged(Entry { node, path }));
            }
            (WriteOutcome::Replace, Some(node)) => {
                let old = node.size().get();
                (node, old, false)
            }
            (WriteOutcome::Conflict, _) if !details.autorename => {
                return Err(match mode {
                    WriteMode::Update(_) => AppError::Conflict(
                        crate::Conflict::RevisionMismatch,
                        "the file's current revision is not the given rev",
                    ),
                    _ => AppError::Conflict(
                        crate::Conflict::NameTaken,
                        "something already exists at this path",
                    ),
                });
            }
            _ => {
                // Create, or a conflict resolved by storing under another name.
                let name = self
                    .free_name(tx.as_mut(), parent, &destination.name, false, true, None)
                    .await?;
                let node = Node::new(
                    NodeId::from_uuid(self.ports.ids.new_id()),
                    namespace,
                    parent,
                    name,
                    NodeKind::File,
                    now,
                );
                (node, 0, true)
            }
        };
        let growth = stored.size.saturating_sub(old_size);
        let room = self.room_in(tx.as_mut(), &access, namespace).await?;
        Self::check_quota(room, growth)?;

        let revision = Revision::new(
            RevisionId::from_uuid(self.ports.ids.new_id()),
            node.id,
            size,
            stored.blocks,
            details.media_type,
            client_modified,
            now,
        )?;
        node.file = Some(revision.version());
        node.modified_at = now;
        let path = parent_path.join(node.name.clone());
        if created {
            tx.nodes().insert(&node).await?;
            self.record(tx.as_mut(), namespace, node.id, None).await?;
        } else {
            let within = self.live_path_of(tx.as_mut(), &node).await?;
            tx.nodes().update(&node).await?;
            self.record(tx.as_mut(), namespace, node.id, within.as_ref())
                .await?;
        }
        self.store_revision(tx.as_mut(), &revision).await?;
        tx.namespaces()
            .add_usage(namespace, stored.size as i64 - old_size as i64)
            .await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &[namespace]).await?;
        tracing::info!(node = %node.id, size = stored.size, created, "file stored");
        if let Some(actor) = actor {
            self.publish("file-stored", &actor, Some(&path), None);
        }
        let entry = Entry { path, node };
        Ok(if created {
            UploadOutcome::Created(entry)
        } else {
            UploadOutcome::Replaced(entry)
        })
    }

    /// Streams the content into stored blocks, refusing to accept more than the quota allows.
    async fn ingest(
        &self,
        content: ByteStream,
        room: Room,
        replaceable: u64,
    ) -> Result<StoredFile, AppError> {
        let mut size = 0u64;
        let stored: Vec<(BlockHash, u64)> = self
            .store_blocks(content, move |len| {
                size += u64::from(len);
                Self::check_quota(room, size.saturating_sub(replaceable))
            })
            .try_collect()
            .await?;
        let size = stored.iter().map(|(_, len)| len).sum();
        let blocks = stored.into_iter().map(|(hash, _)| hash).collect();
        Ok(StoredFile { blocks, size })
    }

    /// Cuts `content` into blocks, hashes them and stores each one, yielding `(hash, length)`
    /// in content order. `admit` sees each block's length first and may refuse it. Up to
    /// [`PUTS_IN_FLIGHT`] blocks are written at once (their order is kept), so storage latency
    /// (fsync, S3 round trips) overlaps instead of adding up. A block's index transaction may be
    /// open while an earlier block is yielded: the consumer must not open a write transaction
    /// before the stream ends.
    pub(crate) fn store_blocks(
        &self,
        content: ByteStream,
        mut admit: impl FnMut(u32) -> Result<(), AppError> + Send + 'static,
    ) -> StoredBlocks {
        // Owned handles: closures that borrow `self` make the handler future's `Send` unprovable.
        let (uow, clock, blobs) = (
            self.ports.uow.clone(),
            self.ports.clock.clone(),
            self.ports.blobs.clone(),
        );
        // Boxed as `dyn Stream + Send`: erasing the combinators' closure types lets the
        // compiler prove `Send` here rather than fail to in every caller.
        Box::pin(
            self.ports
                .block_hasher
                .hash_blocks(content)
                .map_err(AppError::from)
                .and_then(move |block| {
                    let admitted = admit(block.len);
                    let (uow, clock) = (uow.clone(), clock.clone());
                    async move {
                        admitted?;
                        // Index the block before its bytes exist, so collection never races the
                        // write.
                        let mut tx = uow.begin().await?;
                        tx.blocks()
                            .touch(&block.hash, block.len, clock.now())
                            .await?;
                        tx.commit().await?;
                        Ok(block)
                    }
                })
                .map_ok(move |block| {
                    let blobs = blobs.clone();
                    async move {
                        let hash = block.hash;
                        let len = u64::from(block.len);
                        blobs.put(block).await?;
                        Ok::<(BlockHash, u64), AppError>((hash, len))
                    }
                })
                .try_buffered(PUTS_IN_FLIGHT),
        )
    }

    /// Stores one block: indexed first (so collection never races the write), then its bytes.
    pub(crate) async fn store_block(
        &self,
        block: HashedBlock,
    ) -> Result<(BlockHash, u64), AppError> {
        let (hash, len) = (block.hash, u64::from(block.len));
        let mut tx = self.ports.uow.begin().await?;
        tx.blocks()
            .touch(&block.hash, block.len, self.ports.clock.now())
            .await?;
        tx.commit().await?;
        self.ports.blobs.put(block).await?;
        Ok((hash, len))
    }

    /// Stores a new revision whose blocks are already stored, refreshing their index entries in
    /// the same transaction so that garbage collection cannot take them.
    pub(crate) async fn store_revision(
        &self,
        tx: &mut dyn Transaction,
        revision: &Revision,
    ) -> Result<(), AppError> {
        let unique: BTreeSet<BlockHash> = revision.blocks().iter().copied().collect();
        let unique: Vec<BlockHash> = unique.into_iter().collect();
        if !tx
            .blocks()
            .touch_existing(&unique, self.ports.clock.now())
            .await?
        {
            return Err(AppError::Infrastructure(crate::InfrastructureError::msg(
                "a block of the revision is no longer stored (collected during a very long upload?)",
            )));
        }
        tx.revisions().insert(revision).await?;
        Ok(())
    }
}

/// An upload's stored blocks, read back for scanners (block by block, only what is asked).
struct StoredContent {
    blobs: Arc<dyn BlobStore>,
    blocks: Vec<BlockHash>,
    size: u64,
}

#[async_trait::async_trait]
impl UploadContentReader for StoredContent {
    fn size(&self) -> u64 {
        self.size
    }

    async fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, crate::InfrastructureError> {
        let end = offset.saturating_add(u64::from(len));
        let mut bytes = Vec::new();
        for (block, within, length) in
            coffer_domain::files::block_ranges(&self.blocks, self.size, offset, end)
        {
            let mut stream = self.blobs.read(&block, within, length).await?;
            while let Some(chunk) = stream.try_next().await.map_err(|err| match err {
                crate::ports::ContentError::Storage(inner) => inner,
                other => crate::InfrastructureError::new(other),
            })? {
                bytes.extend_from_slice(&chunk);
            }
        }
        Ok(bytes)
    }
}
