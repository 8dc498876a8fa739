//! Garbage collection: purge old trash, prune old revisions, drop abandoned upload sessions,
//! delete unreferenced blocks and the debris of writes that never finished.

use super::Files;
use crate::AppError;

/// Items per garbage-collection transaction: small, so writers are never held up for long.
const BATCH: u32 = 100;

/// What a garbage collection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Trashed items deleted for good (past the trash retention).
    pub trash_purged: u64,
    /// Replaced revisions deleted (past the revision retention).
    pub revisions_pruned: u64,
    /// Blocks whose bytes were deleted.
    pub blocks_deleted: u64,
    /// Change-journal entries pruned (past the journal retention).
    pub changes_pruned: u64,
    /// Upload sessions deleted (past their expiry).
    pub uploads_expired: u64,
    /// Pieces of debris of writes that never finished (e.g. temporary files of a killed
    /// process) deleted, once older than the block grace.
    pub debris_swept: u64,
}

/// Progress of a garbage collection, reported after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcProgress {
    /// Purging the trash; items so far.
    Trash(u64),
    /// Pruning revisions; revisions so far.
    Revisions(u64),
    /// Deleting blocks; blocks so far.
    Blocks(u64),
}

impl Files {
    /// Runs one garbage collection. Safe to run while uploads are in flight and on several
    /// servers at once: a block is deleted only if no revision references it and nothing has
    /// touched it for the grace period, which uploads do for every block they store.
    #[tracing::instrument(skip_all)]
    pub async fn collect_garbage(
        &self,
        progress: &mut (dyn FnMut(GcProgress) + Send),
    ) -> Result<GcReport, AppError> {
        let mut report = GcReport::default();
        let now = self.ports.clock.now();

        let trash_cutoff = now - self.rules.trash_retention;
        loop {
            let expired = {
                let mut tx = self.ports.uow.begin_read().await?;
                tx.nodes().trashed_before(trash_cutoff, BATCH).await?
            };
            if expired.is_empty() {
                break;
            }
            for item in expired {
                // Under the namespace lock, so a concurrent restore wins or loses cleanly.
                let mut tx = self.ports.uow.begin().await?;
                tx.namespaces().lock(item.namespace).await?;
                let still_expired = tx
                    .nodes()
                    .get(item.id)
                    .await?
                    .and_then(|n| n.trashed_at)
                    .is_some_and(|at| at < trash_cutoff);
                if still_expired {
                    tx.nodes().delete_subtree(item.id).await?;
                    tx.commit().await?;
                    report.trash_purged += 1;
                }
            }
            progress(GcProgress::Trash(report.trash_purged));
        }

        let revision_cutoff = now - self.rules.revision_retention;
        loop {
            let mut tx = self.ports.uow.begin().await?;
            let pruned = tx.revisions().prune_before(revision_cutoff, BATCH).await?;
            tx.commit().await?;
            if pruned == 0 {
                break;
            }
            report.revisions_pruned += pruned;
            progress(GcProgress::Revisions(report.revisions_pruned));
        }

        let mut tx = self.ports.uow.begin().await?;
        report.changes_pruned = tx
            .changes()
            .prune_before(now - self.rules.journal_retention)
            .await?;
        tx.commit().await?;

        loop {
            let mut tx = self.ports.uow.begin().await?;
            let expired = tx.uploads().delete_expired(now, BATCH).await?;
            tx.commit().await?;
            if expired == 0 {
                break;
            }
            report.uploads_expired += expired;
        }

        let block_cutoff = now - self.rules.block_grace;
        loop {
            let mut tx = self.ports.uow.begin().await?;
            let collected = tx.blocks().collect(block_cutoff, BATCH).await?;
            if collected.is_empty() {
                break;
            }
            // Bytes go before the index entries commit: an upload that wants a block again
            // re-indexes it only after this transaction, and then writes the bytes anew.
            self.ports.blobs.delete(&collected).await?;
            tx.commit().await?;
            report.blocks_deleted += collected.len() as u64;
            progress(GcProgress::Blocks(report.blocks_deleted));
        }
        // A write still in flight touches its debris-to-be well within the grace.
        report.debris_swept = self.ports.blobs.sweep_debris(block_cutoff).await?;
        tracing::info!(?report, "garbage collected");
        Ok(report)
    }
}
