//! Reading: metadata, folder listings and downloads.

use coffer_domain::files::{NodePath, RevisionId};
use futures_util::{StreamExt, TryStreamExt, stream};

use super::locate::Located;
use super::{
    Download, Entry, Files, FolderPage, ListCursor, ListFrame, Target, stale_listing_cursor,
};
use crate::{AppError, Principal};

/// A byte range as a client asks for it (`Range: bytes=…`), before it is checked against the
/// content's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// `start-` or `start-end` (inclusive end).
    From {
        /// First byte.
        start: u64,
        /// Last byte, if given.
        end: Option<u64>,
    },
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl RangeRequest {
    /// The half-open range `start..end` this request selects in content of `size` bytes.
    pub fn resolve(self, size: u64) -> Result<(u64, u64), AppError> {
        let unsatisfiable = AppError::RangeNotSatisfiable { size };
        match self {
            RangeRequest::From { start, end } => {
                if start >= size || end.is_some_and(|end| end < start) {
                    return Err(unsatisfiable);
                }
                let end = end.map_or(size, |end| end.saturating_add(1).min(size));
                Ok((start, end))
            }
            RangeRequest::Suffix(0) => Err(unsatisfiable),
            RangeRequest::Suffix(_) if size == 0 => Err(unsatisfiable),
            RangeRequest::Suffix(n) => Ok((size.saturating_sub(n), size)),
        }
    }
}

/// Largest listing page.
pub const MAX_PAGE: u32 = 2000;

impl Files {
    /// Metadata of a file or folder.
    pub async fn metadata(&self, caller: &Principal, target: &str) -> Result<Entry, AppError> {
        let target = Target::parse(target)?;
        let mut tx = self.ports.uow.begin_read().await?;
        let namespace = self.home(tx.as_mut(), caller.user_id).await?;
        match self.locate(tx.as_mut(), &namespace, &target).await? {
            Located::Entry(entry) => Ok(entry),
            Located::Root => Err(AppError::NotAllowed("the root folder has no metadata")),
        }
    }

    /// A file's content (the current revision, or `rev`), optionally a byte range of it.
    pub async fn download(
        &self,
        caller: &Principal,
        target: &str,
        rev: Option<&str>,
        range: Option<RangeRequest>,
    ) -> Result<Download, AppError> {
        let target = Target::parse(target)?;
        let rev = rev.map(RevisionId::parse_rev).transpose()?;
        let mut tx = self.ports.uow.begin_read().await?;
        let namespace = self.home(tx.as_mut(), caller.user_id).await?;
        let entry = self.locate_entry(tx.as_mut(), &namespace, &target).await?;
        self.serve(tx, entry, rev, range).await
    }

    /// The content of a located file: its current revision or `rev`, whole or a range. The
    /// bytes are read from storage only as the stream is polled.
    pub(crate) async fn serve(
        &self,
        mut tx: Box<dyn crate::ports::Transaction>,
        entry: Entry,
        rev: Option<RevisionId>,
        range: Option<RangeRequest>,
    ) -> Result<Download, AppError> {
        let current = entry
            .node
            .file
            .as_ref()
            .ok_or(AppError::NotAllowed("a folder has no content to download"))?;
        let revision = tx
            .revisions()
            .get(rev.unwrap_or(current.revision))
            .await?
            .filter(|r| r.node() == entry.node.id)
            .ok_or(AppError::NotFound("revision"))?;
        drop(tx);

        let size = revision.size().get();
        let (range, partial) = match range {
            Some(request) => (request.resolve(size)?, true),
            None => ((0, size), false),
        };
        let blobs = self.ports.blobs.clone();
        let pieces = revision.block_ranges(range.0, range.1);
        let content = stream::iter(pieces)
            .then(move |(hash, offset, length)| {
                let blobs = blobs.clone();
                async move { blobs.read(&hash, offset, length).await }
            })
            .map_err(crate::ports::ContentError::Storage)
            .try_flatten();
        Ok(Download {
            entry,
            revision,
            range,
            partial,
            content: Box::pin(content),
        })
    }

    /// Lists a folder (`limit` entries at a time, at most [`MAX_PAGE`]), or continues a listing
    /// from its cursor. Entries come in name order; a recursive listing walks depth-first. Each
    /// page costs work proportional to its size, not the folder's.
    pub async fn list_folder(
        &self,
        caller: &Principal,
        target: &str,
        recursive: bool,
        limit: u32,
        cursor: Option<ListCursor>,
    ) -> Result<FolderPage, AppError> {
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let mut tx = self.ports.uow.begin_read().await?;
        let namespace = self.home(tx.as_mut(), caller.user_id).await?;
        let (recursive, mut frames, mut paths) = match cursor {
            None => {
                let (folder, path) = match self
                    .locate(tx.as_mut(), &namespace, &Target::parse(target)?)
                    .await?
                {
                    Located::Root => (namespace.root, NodePath::root()),
                    Located::Entry(entry) if entry.node.is_folder() => (entry.node.id, entry.path),
                    Located::Entry(_) => {
                        return Err(AppError::NotAllowed("only folders can be listed"));
                    }
                };
                let frame = ListFrame {
                    folder,
                    after: None,
                };
                (recursive, vec![frame], vec![path])
            }
            Some(cursor) => {
                let paths = self.frame_paths(tx.as_mut(), &namespace, &cursor).await?;
                (cursor.recursive, cursor.frames, paths)
            }
        };

        let mut entries = Vec::new();
        while entries.len() < limit {
            let Some(frame) = frames.last_mut() else {
                break;
            };
            let want = (limit - entries.len()) as u32;
            let children = tx
                .nodes()
                .children(frame.folder, frame.after.as_deref(), want)
                .await?;
            let exhausted = children.len() < want as usize;
            let mut descend = None;
            for child in children {
                frame.after = Some(child.name.key());
                let path = paths
                    .last()
                    .expect("a path per frame")
                    .join(child.name.clone());
                let is_folder = child.is_folder();
                let id = child.id;
                entries.push(Entry {
                    node: child,
                    path: path.clone(),
                });
                if recursive && is_folder {
                    descend = Some((id, path));
                    break;
                }
            }
            match descend {
                Some((folder, path)) => {
                    frames.push(ListFrame {
                        folder,
                        after: None,
                    });
                    paths.push(path);
                }
                None if exhausted => {
                    frames.pop();
                    paths.pop();
                }
                None => {}
            }
        }
        let cursor = (!frames.is_empty()).then_some(ListCursor { recursive, frames });
        Ok(FolderPage { entries, cursor })
    }

    /// The display paths of a returned cursor's folders, after checking that they form a chain
    /// in the caller's namespace (a cursor is opaque, not trusted).
    async fn frame_paths(
        &self,
        tx: &mut dyn crate::ports::Transaction,
        namespace: &coffer_domain::files::Namespace,
        cursor: &ListCursor,
    ) -> Result<Vec<NodePath>, AppError> {
        let invalid = stale_listing_cursor;
        let first = cursor.frames.first().ok_or_else(invalid)?;
        let mut paths = Vec::with_capacity(cursor.frames.len());
        if first.folder == namespace.root {
            paths.push(NodePath::root());
        } else {
            let node = tx.nodes().get(first.folder).await?.ok_or_else(invalid)?;
            if node.namespace != namespace.id || !node.is_folder() || node.trashed_at.is_some() {
                return Err(invalid());
            }
            paths.push(self.live_path_of(tx, &node).await?.ok_or_else(invalid)?);
        }
        for pair in cursor.frames.windows(2) {
            let node = tx.nodes().get(pair[1].folder).await?.ok_or_else(invalid)?;
            if node.parent != pair[0].folder || !node.is_folder() || node.trashed_at.is_some() {
                return Err(invalid());
            }
            let path = paths.last().expect("first path pushed").join(node.name);
            paths.push(path);
        }
        Ok(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        let from = |start, end| RangeRequest::From { start, end };
        assert_eq!(from(0, None).resolve(10).unwrap(), (0, 10));
        assert_eq!(from(2, Some(4)).resolve(10).unwrap(), (2, 5));
        assert_eq!(from(9, Some(100)).resolve(10).unwrap(), (9, 10));
        assert_eq!(RangeRequest::Suffix(3).resolve(10).unwrap(), (7, 10));
        assert_eq!(RangeRequest::Suffix(30).resolve(10).unwrap(), (0, 10));
        for unsatisfiable in [from(10, None), from(5, Some(4)), RangeRequest::Suffix(0)] {
            assert!(matches!(
                unsatisfiable.resolve(10),
                Err(AppError::RangeNotSatisfiable { size: 10 })
            ));
        }
        assert!(
            from(0, None).resolve(0).is_err(),
            "nothing to serve in an empty file"
        );
        assert!(RangeRequest::Suffix(1).resolve(0).is_err());
    }
}
