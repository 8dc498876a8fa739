//! Reading: metadata, folder listings and downloads.

use std::sync::Arc;

use coffer_domain::files::{NodeId, NodePath, Revision, RevisionId};
use futures_util::{StreamExt, TryStreamExt, stream};

use super::access::Access;
use super::locate::Located;
use super::{
    Download, Entry, Files, FolderPage, ListCursor, ListFrame, Target, stale_listing_cursor,
};
use crate::error::retry_transient;
use crate::ports::Transaction;
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

/// A test of the revision about to be served, written by the protocol that asked (HTTP's
/// `If-None-Match` and `If-Range` comparisons live in the API); the use case applies it in the
/// read that picks the revision.
#[derive(Clone)]
pub struct RevisionTest(Arc<dyn Fn(&Revision) -> bool + Send + Sync>);

impl RevisionTest {
    /// A test that holds for the revisions `test` accepts.
    pub fn new(test: impl Fn(&Revision) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(test))
    }

    /// Whether the test holds for `revision`.
    pub fn holds(&self, revision: &Revision) -> bool {
        (self.0)(revision)
    }
}

impl std::fmt::Debug for RevisionTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevisionTest")
    }
}

/// What a download asks for: which bytes, under which conditions (RFC 9110). The conditions
/// are evaluated against the revision served, in the read that picks it, so the answer and
/// the bytes always belong to the same content.
#[derive(Debug, Clone, Default)]
pub struct ReadRequest {
    /// The byte range, if one is asked for.
    pub range: Option<RangeRequest>,
    /// Answer "not modified" when this holds (`If-None-Match` names the revision's tag).
    pub not_modified_if: Option<RevisionTest>,
    /// Serve `range` only when this holds (`If-Range` names this revision); otherwise the
    /// whole content.
    pub range_only_if: Option<RevisionTest>,
}

/// The answer to a download.
pub enum Served {
    /// The content still has a tag of `If-None-Match`: nothing to send.
    NotModified(Entry, Revision),
    /// The content (or the asked range of it).
    Content(Download),
}

impl Served {
    /// The download, unless the answer is "not modified".
    pub fn into_download(self) -> Option<Download> {
        match self {
            Served::Content(download) => Some(download),
            Served::NotModified(..) => None,
        }
    }
}

/// Largest listing page.
pub const MAX_PAGE: u32 = 2000;

impl Files {
    /// Metadata of a file or folder.
    pub async fn metadata(&self, caller: &Principal, target: &str) -> Result<Entry, AppError> {
        let target = Target::parse(target)?;
        let target = &target;
        retry_transient(|| async move {
            let (mut tx, access) = self.read_access(caller.user_id).await?;
            match self.locate(tx.as_mut(), &access, target).await? {
                Located::Entry(entry) => Ok(entry),
                Located::Root => Err(AppError::NotAllowed("the root folder has no metadata")),
            }
        })
        .await
    }

    /// A file's content (the current revision, or `rev`), optionally a byte range of it, with
    /// the request's conditions evaluated against the revision served.
    pub async fn download(
        &self,
        caller: &Principal,
        target: &str,
        rev: Option<&str>,
        request: ReadRequest,
    ) -> Result<Served, AppError> {
        let target = Target::parse(target)?;
        let rev = rev.map(RevisionId::parse_rev).transpose()?;
        // Reading is idempotent: done once more if a database connection broke under it.
        let target = &target;
        let (entry, revision) = retry_transient(|| async move {
            let (mut tx, access) = self.read_access(caller.user_id).await?;
            let entry = self.locate_entry(tx.as_mut(), &access, target).await?;
            let revision = Self::revision_to_serve(tx.as_mut(), &entry, rev).await?;
            Ok((entry, revision))
        })
        .await?;
        self.open_content(entry, revision, request).await
    }

    /// The revision of a located file to serve: its current one, or `rev`.
    pub(crate) async fn revision_to_serve(
        tx: &mut dyn Transaction,
        entry: &Entry,
        rev: Option<RevisionId>,
    ) -> Result<Revision, AppError> {
        let current = entry
            .node
            .file
            .as_ref()
            .ok_or(AppError::NotAllowed("a folder has no content to download"))?;
        tx.revisions()
            .get(rev.unwrap_or(current.revision))
            .await?
            .filter(|r| r.node() == entry.node.id)
            .ok_or(AppError::NotFound("revision"))
    }

    /// A revision's content, whole or a range, under the request's conditions (evaluated
    /// against this revision); its first block is opened here.
    pub(crate) async fn open_content(
        &self,
        entry: Entry,
        revision: Revision,
        request: ReadRequest,
    ) -> Result<Served, AppError> {
        if request
            .not_modified_if
            .is_some_and(|test| test.holds(&revision))
        {
            return Ok(Served::NotModified(entry, revision));
        }
        let range = request.range.filter(|_| {
            request
                .range_only_if
                .as_ref()
                .is_none_or(|test| test.holds(&revision))
        });
        let size = revision.size().get();
        let (range, partial) = match range {
            Some(request) => (request.resolve(size)?, true),
            None => ((0, size), false),
        };
        let blobs = self.ports.blobs.clone();
        let mut pieces = revision.block_ranges(range.0, range.1).into_iter();
        // The first block is opened before anything is answered: a store that is down or
        // missing the block fails the request with a clear error instead of cutting a body that
        // has already begun. Later failures end the stream with an error, which aborts it.
        let first = match pieces.next() {
            Some((hash, offset, length)) => Some(blobs.read(&hash, offset, length).await?),
            None => None,
        };
        let rest = stream::iter(pieces)
            .then(move |(hash, offset, length)| {
                let blobs = blobs.clone();
                async move { blobs.read(&hash, offset, length).await }
            })
            .map_err(crate::ports::ContentError::Storage)
            .try_flatten();
        let content = stream::iter(first).flatten().chain(rest);
        Ok(Served::Content(Download {
            entry,
            revision,
            range,
            partial,
            content: Box::pin(content),
        }))
    }

    /// Lists a folder (`limit` entries at a time, at most [`MAX_PAGE`]), or continues a listing
    /// from its cursor. Entries come in name order; a recursive listing walks depth-first,
    /// into the shared folders mounted below too. Each page costs work proportional to its
    /// size, not the folder's.
    pub async fn list_folder(
        &self,
        caller: &Principal,
        target: &str,
        recursive: bool,
        limit: u32,
        cursor: Option<ListCursor>,
    ) -> Result<FolderPage, AppError> {
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let (recursive, mut frames, mut walk) = match cursor {
            None => {
                let (shown, path) = match self
                    .locate(tx.as_mut(), &access, &Target::parse(target)?)
                    .await?
                {
                    Located::Root => (None, NodePath::root()),
                    Located::Entry(entry) if entry.node.is_folder() => {
                        (Some(entry.node), entry.path)
                    }
                    Located::Entry(_) => {
                        return Err(AppError::NotAllowed("only folders can be listed"));
                    }
                };
                let (id, parent) = match &shown {
                    None => (access.home.root, access.home.root),
                    Some(node) => (node.id, self.contents(tx.as_mut(), node).await?.1),
                };
                let frame = ListFrame {
                    folder: id,
                    after: None,
                };
                (recursive, vec![frame], vec![(parent, path)])
            }
            Some(cursor) => {
                let walk = self.frame_walk(tx.as_mut(), &access, &cursor).await?;
                (cursor.recursive, cursor.frames, walk)
            }
        };

        let mut entries = Vec::new();
        while entries.len() < limit {
            let (Some(frame), Some((parent, folder_path))) = (frames.last_mut(), walk.last())
            else {
                break;
            };
            let want = (limit - entries.len()) as u32;
            let children = tx
                .nodes()
                .children(*parent, frame.after.as_deref(), want)
                .await?;
            let exhausted = children.len() < want as usize;
            let folder_path = folder_path.clone();
            let mut descend = None;
            for child in children {
                frame.after = Some(child.name.key());
                let path = folder_path.join(child.name.clone());
                let folder = child.is_folder().then_some(child.clone());
                entries.push(Entry {
                    node: child,
                    path: path.clone(),
                });
                if let Some(folder) = folder.filter(|_| recursive) {
                    descend = Some((folder, path));
                    break;
                }
            }
            match descend {
                Some((folder, path)) => {
                    let (_, parent) = self.contents(tx.as_mut(), &folder).await?;
                    frames.push(ListFrame {
                        folder: folder.id,
                        after: None,
                    });
                    walk.push((parent, path));
                }
                None if exhausted => {
                    frames.pop();
                    walk.pop();
                }
                None => {}
            }
        }
        let cursor = (!frames.is_empty()).then_some(ListCursor { recursive, frames });
        Ok(FolderPage { entries, cursor })
    }

    /// For each folder of a returned cursor: where its children live and its path, after
    /// checking that the folders form a chain the caller can see (a cursor is opaque, not
    /// trusted).
    async fn frame_walk(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        cursor: &ListCursor,
    ) -> Result<Vec<(NodeId, NodePath)>, AppError> {
        let invalid = stale_listing_cursor;
        let first = cursor.frames.first().ok_or_else(invalid)?;
        let mut walk = Vec::with_capacity(cursor.frames.len());
        if first.folder == access.home.root {
            walk.push((access.home.root, NodePath::root()));
        } else {
            let node = tx.nodes().get(first.folder).await?.ok_or_else(invalid)?;
            if access.role(node.namespace).is_none()
                || !node.is_folder()
                || node.trashed_at.is_some()
            {
                return Err(invalid());
            }
            let path = self
                .view_path_of(tx, access, &node)
                .await?
                .ok_or_else(invalid)?;
            walk.push((self.contents(tx, &node).await?.1, path));
        }
        for frame in &cursor.frames[1..] {
            let node = tx.nodes().get(frame.folder).await?.ok_or_else(invalid)?;
            let (parent, path) = walk.last().expect("first pushed");
            if node.parent != *parent || !node.is_folder() || node.trashed_at.is_some() {
                return Err(invalid());
            }
            let path = path.join(node.name.clone());
            walk.push((self.contents(tx, &node).await?.1, path));
        }
        Ok(walk)
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
