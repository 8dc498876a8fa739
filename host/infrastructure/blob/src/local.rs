//! Blocks as files on a local disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use coffer_application::ports::{BlobStore, ByteStream, ContentError, HashedBlock};
use coffer_application::{FailureKind, InfrastructureError};
use coffer_domain::Timestamp;
use coffer_domain::files::BlockHash;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Size of the chunks a read streams (1 MiB was measured fastest for downloads).
const READ_CHUNK: usize = 1024 * 1024;

/// Prefix of files being written. Block files are named by their 64-digit hex hash only, so a
/// temporary file left by a crash is never taken for a block.
const TEMP_PREFIX: &str = ".tmp-";

/// Makes temporary file names unique within this process (the process id covers the others).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// [`BlobStore`] keeping each block in its own file, sharded as
/// `<root>/<hex[0..2]>/<hex[2..4]>/<hex>`.
///
/// Writes go to a temporary file in the block's directory, which is synced, renamed into place,
/// and the directory synced: a block is durable once `put` returns, and never seen half-written.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: Arc<PathBuf>,
    min_free_bytes: u64,
}

impl LocalBlobStore {
    /// A store under `root`, which is created if missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, InfrastructureError> {
        let root = root.into();
        fs::create_dir_all(&root)
            .map_err(|err| io_error("create the blob directory", &root, err))?;
        Ok(Self {
            root: Arc::new(root),
            min_free_bytes: 0,
        })
    }

    /// The same store keeping `bytes` of its filesystem in reserve: a new block that would eat
    /// into them is refused as storage full, so that deleting, moving and the database's own
    /// writes still work when uploads have filled the disk; [`check`](Self::check) reports
    /// the store full meanwhile.
    pub fn with_min_free_bytes(mut self, bytes: u64) -> Self {
        self.min_free_bytes = bytes;
        self
    }

    /// The directory holding the blocks.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Succeeds when the root exists, is a directory, is not read-only and its filesystem has at
    /// least the minimum free space (for readiness probes).
    pub async fn check(&self) -> Result<(), InfrastructureError> {
        let root = Arc::clone(&self.root);
        let min_free_bytes = self.min_free_bytes;
        blocking(move || {
            let metadata = fs::metadata(&*root).map_err(|err| io_error("inspect", &root, err))?;
            if !metadata.is_dir() {
                return Err(InfrastructureError::msg(format!(
                    "blob directory {} is not a directory",
                    root.display()
                )));
            }
            if metadata.permissions().readonly() {
                return Err(InfrastructureError::msg(format!(
                    "blob directory {} is read-only",
                    root.display()
                )));
            }
            let free = free_bytes(&root).map_err(|err| io_error("inspect", &root, err))?;
            if free < min_free_bytes {
                return Err(InfrastructureError::storage_full(format!(
                    "only {free} bytes are free for {} (at least {min_free_bytes} wanted)",
                    root.display()
                )));
            }
            Ok(())
        })
        .await
    }

    /// Deletes temporary files (of writes that never finished: the process was killed) last
    /// modified before `cutoff`; returns how many.
    pub async fn sweep_temporary_files(
        &self,
        cutoff: std::time::SystemTime,
    ) -> Result<u64, InfrastructureError> {
        let root = Arc::clone(&self.root);
        blocking(move || sweep_temporary_files(&root, cutoff)).await
    }

    /// `err`, unless the whole store is gone (its directory is missing: an unmounted disk), which
    /// makes it unavailable rather than failing one block.
    fn unless_gone(&self, err: InfrastructureError) -> InfrastructureError {
        if self.root.is_dir() {
            err
        } else {
            InfrastructureError::unavailable(format!(
                "the blob directory {} is missing ({err})",
                self.root.display()
            ))
        }
    }

    /// Where a block's file lives.
    pub fn block_path(&self, hash: &BlockHash) -> PathBuf {
        block_path(&self.root, hash)
    }
}

fn block_path(root: &Path, hash: &BlockHash) -> PathBuf {
    let hex = hash.to_hex();
    root.join(&hex[0..2]).join(&hex[2..4]).join(hex)
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn check(&self) -> Result<(), InfrastructureError> {
        LocalBlobStore::check(self).await
    }

    async fn sweep_debris(&self, cutoff: Timestamp) -> Result<u64, InfrastructureError> {
        self.sweep_temporary_files(cutoff.into()).await
    }

    async fn put(&self, block: HashedBlock) -> Result<(), InfrastructureError> {
        let total: usize = block.chunks.iter().map(Bytes::len).sum();
        if total != block.len as usize {
            return Err(InfrastructureError::msg(format!(
                "block {} claims {} bytes but has {total}",
                block.hash, block.len
            )));
        }
        let root = Arc::clone(&self.root);
        let reserve = self.min_free_bytes;
        blocking(move || write_block(&root, &block, reserve))
            .await
            .map_err(|err| self.unless_gone(err))
    }

    async fn read(
        &self,
        hash: &BlockHash,
        offset: u64,
        len: u64,
    ) -> Result<ByteStream, InfrastructureError> {
        let path = self.block_path(hash);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|err| match err.kind() {
                io::ErrorKind::NotFound if !self.root.is_dir() => {
                    self.unless_gone(io_error("open", &path, err))
                }
                io::ErrorKind::NotFound => {
                    InfrastructureError::msg(format!("block {hash} is not stored"))
                }
                _ => io_error("open", &path, err),
            })?;
        let size = file
            .metadata()
            .await
            .map_err(|err| io_error("inspect", &path, err))?
            .len();
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(InfrastructureError::msg(format!(
                "range {offset}+{len} is outside block {hash} ({size} bytes)"
            )));
        }
        if len == 0 {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        if offset > 0 {
            file.seek(io::SeekFrom::Start(offset))
                .await
                .map_err(|err| io_error("seek in", &path, err))?;
        }
        let stream = ReaderStream::with_capacity(file.take(len), READ_CHUNK).map(move |chunk| {
            chunk.map_err(|err| ContentError::Storage(io_error("read", &path, err)))
        });
        Ok(Box::pin(stream))
    }

    async fn contains(&self, hash: &BlockHash) -> Result<bool, InfrastructureError> {
        let path = self.block_path(hash);
        match tokio::fs::metadata(&path).await {
            Ok(metadata) => Ok(metadata.is_file()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(io_error("inspect", &path, err)),
        }
    }

    async fn delete(&self, hashes: &[BlockHash]) -> Result<(), InfrastructureError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let paths: Vec<PathBuf> = hashes.iter().map(|hash| self.block_path(hash)).collect();
        blocking(move || {
            for path in paths {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => return Err(io_error("delete", &path, err)),
                }
            }
            Ok(())
        })
        .await
    }
}

/// Writes a block durably unless its file exists already, and unless it would leave less than
/// `reserve` bytes free.
fn write_block(root: &Path, block: &HashedBlock, reserve: u64) -> Result<(), InfrastructureError> {
    let path = block_path(root, &block.hash);
    if path.is_file() {
        return Ok(());
    }
    if reserve > 0 {
        let free = free_bytes(root).map_err(|err| io_error("inspect", root, err))?;
        if free < reserve.saturating_add(u64::from(block.len)) {
            return Err(InfrastructureError::storage_full(format!(
                "{free} bytes are free for {} and {reserve} are kept in reserve: no room for a \
                 block of {} bytes",
                root.display(),
                block.len
            )));
        }
    }
    let Some(dir) = path.parent() else {
        return Err(InfrastructureError::msg(format!(
            "block path {} has no directory",
            path.display()
        )));
    };
    if !dir.is_dir() {
        create_dirs_durably(root, dir)?;
    }
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}-{}",
        block.hash.to_hex(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = write_file(&temp, &block.chunks)
        .map_err(|err| io_error("write", &temp, err))
        .and_then(|()| fs::rename(&temp, &path).map_err(|err| io_error("rename", &temp, err)));
    if let Err(err) = written {
        let _ = fs::remove_file(&temp);
        return Err(err);
    }
    sync_dir(dir)
}

/// Writes `chunks` to a new file with vectored writes and syncs it.
fn write_file(path: &Path, chunks: &[Bytes]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    let mut slices: Vec<IoSlice<'_>> = chunks
        .iter()
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| IoSlice::new(chunk))
        .collect();
    let mut remaining = &mut slices[..];
    while !remaining.is_empty() {
        match file.write_vectored(remaining) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => IoSlice::advance_slices(&mut remaining, n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    file.sync_all()
}

/// Creates the shard directories of `dir` (under `root`) and syncs each parent, so that the new
/// directory entries survive a crash too.
fn create_dirs_durably(root: &Path, dir: &Path) -> Result<(), InfrastructureError> {
    let mut missing = Vec::new();
    let mut current = dir;
    while current != root && !current.is_dir() {
        missing.push(current);
        match current.parent() {
            Some(parent) => current = parent,
            None => break,
        }
    }
    for created in missing.into_iter().rev() {
        match fs::create_dir(created) {
            Ok(()) => {}
            // Another writer created it meanwhile.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(io_error("create", created, err)),
        }
        if let Some(parent) = created.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), InfrastructureError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|err| io_error("sync", dir, err))
}

/// An I/O error, of kind [`FailureKind::StorageFull`] when the disk (or a quota) is full and
/// [`FailureKind::Unavailable`] when the disk timed out.
pub(crate) fn io_error(action: &str, path: &Path, err: io::Error) -> InfrastructureError {
    let kind = match err.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => FailureKind::StorageFull,
        io::ErrorKind::TimedOut => FailureKind::Unavailable,
        _ => FailureKind::Other,
    };
    InfrastructureError::msg(format!("could not {action} {}: {err}", path.display()))
        .with_kind(kind)
}

/// Bytes available to unprivileged writers on the filesystem of `path`.
fn free_bytes(path: &Path) -> io::Result<u64> {
    let stats = rustix::fs::statvfs(path)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// Deletes the temporary files under `root`'s shard directories modified before `cutoff`.
fn sweep_temporary_files(
    root: &Path,
    cutoff: std::time::SystemTime,
) -> Result<u64, InfrastructureError> {
    let mut swept = 0;
    for outer in read_dir(root)? {
        if !outer.is_dir() {
            continue;
        }
        for inner in read_dir(&outer)? {
            if !inner.is_dir() {
                continue;
            }
            for file in read_dir(&inner)? {
                let is_temporary = file
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with(TEMP_PREFIX));
                if !is_temporary {
                    continue;
                }
                let modified = match fs::symlink_metadata(&file).and_then(|m| m.modified()) {
                    Ok(modified) => modified,
                    // Renamed into place or removed meanwhile.
                    Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                    Err(err) => return Err(io_error("inspect", &file, err)),
                };
                if modified >= cutoff {
                    continue;
                }
                match fs::remove_file(&file) {
                    Ok(()) => swept += 1,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => return Err(io_error("delete", &file, err)),
                }
            }
        }
    }
    if swept > 0 {
        tracing::info!(swept, root = %root.display(), "temporary files of unfinished writes deleted");
    }
    Ok(swept)
}

/// The entries of a directory (none if it vanished meanwhile).
fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, InfrastructureError> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<io::Result<Vec<_>>>()
            .map_err(|err| io_error("list", dir, err)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(io_error("list", dir, err)),
    }
}

/// Runs file work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, InfrastructureError> + Send + 'static,
) -> Result<T, InfrastructureError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(InfrastructureError::new)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_sharded_by_their_hex_hash() {
        let hash = BlockHash::of(b"abc");
        let hex = hash.to_hex();
        let path = block_path(Path::new("/blobs"), &hash);
        assert_eq!(
            path,
            Path::new("/blobs")
                .join(&hex[..2])
                .join(&hex[2..4])
                .join(&hex)
        );
        assert!(
            path.ends_with(
                "ba/78/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            )
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn full_disks_and_quotas_are_storage_full() {
        for errno in [28, 122] {
            // ENOSPC, EDQUOT
            let err = io_error(
                "write",
                Path::new("/blobs/x"),
                io::Error::from_raw_os_error(errno),
            );
            assert_eq!(err.kind(), FailureKind::StorageFull, "errno {errno}");
        }
        let other = io_error("write", Path::new("/x"), io::Error::other("bad sector"));
        assert_eq!(other.kind(), FailureKind::Other);
    }

    #[test]
    fn temporary_files_never_look_like_blocks() {
        let name = format!("{TEMP_PREFIX}{}", BlockHash::of(b"abc").to_hex());
        assert!(BlockHash::parse(&name).is_err());
    }
}
