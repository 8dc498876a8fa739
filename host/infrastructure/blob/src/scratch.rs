//! Scratch space on local disk.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use coffer_application::InfrastructureError;
use coffer_application::ports::{ByteStream, ContentError, Scratch};
use futures_util::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use crate::local::{blocking, io_error};

/// Size of the chunks a held body is read back in.
const READ_CHUNK: usize = 1024 * 1024;

/// [`Scratch`] as unnamed files in a directory: each body goes to a file that has no name
/// (`O_TMPFILE` where the filesystem has it, else one unlinked at once), so the space is
/// returned when the file is closed, and a crash leaves nothing behind.
#[derive(Debug, Clone)]
pub struct DiskScratch {
    dir: Arc<PathBuf>,
}

impl DiskScratch {
    /// Scratch space in `dir`, which is created if missing. Put it on a disk, not a RAM-backed
    /// filesystem: a held body takes its whole size there.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, InfrastructureError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|err| io_error("create the scratch directory", &dir, err))?;
        Ok(Self { dir: Arc::new(dir) })
    }
}

#[async_trait]
impl Scratch for DiskScratch {
    async fn hold(&self, mut content: ByteStream) -> Result<ByteStream, ContentError> {
        let dir = Arc::clone(&self.dir);
        let file = blocking(move || {
            tempfile::tempfile_in(&*dir).map_err(|err| io_error("create a file in", &dir, err))
        })
        .await?;
        let mut file = tokio::fs::File::from_std(file);
        let failed = |action: &'static str| {
            let dir = Arc::clone(&self.dir);
            move |err| ContentError::Storage(io_error(action, &dir, err))
        };
        while let Some(chunk) = content.next().await {
            file.write_all(&chunk?)
                .await
                .map_err(failed("write scratch space in"))?;
        }
        file.flush()
            .await
            .map_err(failed("write scratch space in"))?;
        file.seek(SeekFrom::Start(0))
            .await
            .map_err(failed("read scratch space in"))?;
        let dir = Arc::clone(&self.dir);
        Ok(Box::pin(ReaderStream::with_capacity(file, READ_CHUNK).map(
            move |chunk| {
                chunk.map_err(|err| {
                    ContentError::Storage(io_error("read scratch space in", &dir, err))
                })
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn a_held_body_reads_back_whole_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = DiskScratch::open(dir.path().join("scratch")).unwrap();
        let chunks: Vec<Result<Bytes, ContentError>> = (0..40u8)
            .map(|i| Ok(Bytes::from(vec![i; 100_000])))
            .collect();
        let held = scratch
            .hold(Box::pin(futures_util::stream::iter(chunks)))
            .await
            .unwrap();
        let back: Vec<Bytes> = held.try_collect().await.unwrap();
        let back = back.concat();
        assert_eq!(back.len(), 4_000_000);
        assert!(
            back.chunks(100_000)
                .enumerate()
                .all(|(i, c)| c.iter().all(|&b| b == i as u8))
        );
        let names = std::fs::read_dir(dir.path().join("scratch"))
            .unwrap()
            .count();
        assert_eq!(names, 0, "a held body has no name in the directory");
    }

    #[tokio::test]
    async fn a_failing_body_is_returned_as_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = DiskScratch::open(dir.path()).unwrap();
        let chunks = vec![
            Ok(Bytes::from_static(b"some")),
            Err(ContentError::Source("the client went away".into())),
        ];
        let held = scratch
            .hold(Box::pin(futures_util::stream::iter(chunks)))
            .await;
        assert!(matches!(held, Err(ContentError::Source(_))));
    }
}
