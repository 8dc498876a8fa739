//! Upload: stream the content into blocks, then commit the file in one short transaction.

use std::collections::BTreeSet;

use coffer_domain::Timestamp;
use coffer_domain::account::ByteCount;
use coffer_domain::files::{
    BlockHash, ContentHash, Node, NodeId, NodeKind, Revision, RevisionId, WriteMode, WriteOutcome,
};
use coffer_domain::sharing::Need;
use futures_util::TryStreamExt;
use std::sync::Arc;

use super::locate::{Located, Room};
use super::{Entry, Files, Target};
use crate::ports::{
    BlobStore, ByteStream, QuotaQuestion, Transaction, UploadContentReader, UploadFacts,
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
type StoredBlocks =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<(BlockHash, u64), AppError>> + Send>>;

/// Most block writes of one upload in flight at once.
const PUTS_IN_FLIGHT: usize = 4;

/// What was stored while the body streamed in.
struct Ingested {
    blocks: Vec<BlockHash>,
    size: u64,
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
        let path = coffer_domain::files::NodePath::parse(&input.path)?;
        let name = path.name().cloned().ok_or(AppError::NotAllowed(
            "the root folder cannot be uploaded to",
        ))?;
        let mode = match &input.mode {
            UploadMode::Add => WriteMode::Add,
            UploadMode::Overwrite => WriteMode::Overwrite,
            UploadMode::Update(rev) => WriteMode::Update(RevisionId::parse_rev(rev)?),
        };
        let expected = input
            .content_hash
            .as_deref()
            .map(ContentHash::parse)
            .transpose()?;

        // Refuse what cannot fit before reading the body. A file this upload may replace frees
        // its bytes, so only growth counts.
        // A viewer's upload is refused here too, before the body is read.
        let parent_path = path.parent().unwrap_or_default();
        let (room, replaceable, people) = {
            let (mut tx, access) = self.read_access(caller.user_id).await?;
            let namespace = self
                .namespace_hint(tx.as_mut(), &access, &Target::Path(parent_path.clone()))
                .await?;
            access.require(namespace, Need::Write)?;
            let room = self.room_in(tx.as_mut(), namespace).await?;
            // Who uploads and whose quota it uses, for the plugins that guard uploads, if any.
            let people = if self.plugins.guards_uploads() {
                let actor = self.actor_facts(tx.as_mut(), caller.user_id).await?;
                let owner_id = self.namespace(tx.as_mut(), namespace).await?.owner;
                Some((actor, self.actor_facts(tx.as_mut(), owner_id).await?))
            } else {
                None
            };
            let replaceable = match (
                mode,
                self.locate(tx.as_mut(), &access, &Target::Path(path.clone()))
                    .await,
            ) {
                (WriteMode::Add, _) => 0,
                (_, Ok(Located::Entry(entry))) => entry.node.size().get(),
                _ => 0,
            };
            (room, replaceable, people)
        };
        if let Some(length) = input.length {
            Self::check_quota(room, length.saturating_sub(replaceable))?;
        }

        let ingested = self.ingest(content, room, replaceable).await?;
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

        // Plugins decide before anything is committed (and outside any transaction: a slow
        // plugin holds no lock). A refusal leaves only unreferenced blocks, which are collected.
        if let Some((actor, owner)) = people {
            let content: Arc<dyn UploadContentReader> = Arc::new(StoredContent {
                blobs: self.ports.blobs.clone(),
                blocks: ingested.blocks.clone(),
                size: ingested.size,
            });
            let facts = UploadFacts {
                path: path.to_string(),
                size: ingested.size,
                media_type: input.media_type.clone(),
                content_hash: actual.to_hex(),
                actor: actor.clone(),
            };
            self.plugins.scan(&facts, content).await?;
            self.plugins
                .check_upload(&QuotaQuestion {
                    actor,
                    owner,
                    path: path.to_string(),
                    size: ingested.size.saturating_sub(replaceable),
                    used: room.used,
                    quota: room.quota.get(),
                })
                .await?;
        }

        let (mut tx, access) = self
            .write_access(caller.user_id, &[&Target::Path(parent_path.clone())])
            .await?;
        let place = self
            .folder_at(tx.as_mut(), &access, &parent_path, true)
            .await?;
        access.require_write(place.namespace)?;
        let (namespace, parent, parent_path) = (place.namespace, place.folder, place.path);
        let existing = tx.nodes().child(parent, &name.key()).await?;
        let now = self.ports.clock.now();
        let client_modified = input.client_modified.unwrap_or(now);
        let size = ByteCount::new(ingested.size)?;

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
            (WriteOutcome::Conflict, _) if !input.autorename => {
                return Err(AppError::Conflict(match mode {
                    WriteMode::Update(_) => "the file's current revision is not the given rev",
                    _ => "something already exists at this path",
                }));
            }
            _ => {
                // Create, or a conflict resolved by storing under another name.
                let name = self
                    .free_name(tx.as_mut(), parent, &name, false, true, None)
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
        let growth = ingested.size.saturating_sub(old_size);
        let room = self.room_in(tx.as_mut(), namespace).await?;
        Self::check_quota(room, growth)?;

        let revision = Revision::new(
            RevisionId::from_uuid(self.ports.ids.new_id()),
            node.id,
            size,
            ingested.blocks,
            input.media_type,
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
            .add_usage(namespace, ingested.size as i64 - old_size as i64)
            .await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &[namespace]).await?;
        tracing::info!(node = %node.id, size = ingested.size, created, "file stored");
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
    /// Up to [`PUTS_IN_FLIGHT`] blocks are written at once (their order is kept), so storage
    /// latency (fsync, S3 round trips) overlaps instead of adding up.
    async fn ingest(
        &self,
        content: ByteStream,
        room: Room,
        replaceable: u64,
    ) -> Result<Ingested, AppError> {
        let mut size = 0u64;
        // Owned handles: closures that borrow `self` make the handler future's `Send` unprovable.
        let (uow, clock, blobs) = (
            self.ports.uow.clone(),
            self.ports.clock.clone(),
            self.ports.blobs.clone(),
        );
        // Boxed as `dyn Stream + Send`: erasing the combinators' closure types lets the
        // compiler prove `Send` here rather than fail to in every caller.
        let stored: StoredBlocks = Box::pin(
            self.ports
                .block_hasher
                .hash_blocks(content)
                .map_err(AppError::from)
                .and_then(move |block| {
                    size += u64::from(block.len);
                    let within_quota = Self::check_quota(room, size.saturating_sub(replaceable));
                    let (uow, clock) = (uow.clone(), clock.clone());
                    async move {
                        within_quota?;
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
        );
        let stored: Vec<(BlockHash, u64)> = stored.try_collect().await?;
        let size = stored.iter().map(|(_, len)| len).sum();
        let blocks = stored.into_iter().map(|(hash, _)| hash).collect();
        Ok(Ingested { blocks, size })
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
