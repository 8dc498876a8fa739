//! The change feed: what changed below a folder since a cursor, replayed from the journals of
//! the namespaces the folder spans (its own, and the shared folders mounted below it).

use std::collections::HashMap;

use coffer_domain::account::UserId;
use coffer_domain::files::{NamespaceId, NamespaceKind, Node, NodeId, NodePath};

use super::access::Access;
use super::locate::{Located, Place};
use super::{Entry, Files, Target};
use crate::ports::Transaction;
use crate::{AppError, Principal};

/// A position in the change feed of a folder. Opaque to clients (the API signs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCursor {
    /// The folder whose changes it follows, as the caller sees it: their home's root, a folder,
    /// or a shared folder's mount point.
    pub folder: NodeId,
    /// Whether changes anywhere below the folder count, or only in it.
    pub recursive: bool,
    /// For each namespace the feed reads (the folder's own first, then shared folders mounted
    /// below it), the last journal entry already seen.
    pub positions: Vec<(NamespaceId, u64)>,
    /// The account it was issued to (none in cursors issued before accounts were recorded):
    /// a longpoll on it stops once that account no longer reaches a namespace it follows.
    pub account: Option<UserId>,
}

/// One item of the change feed, to be applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEntry {
    /// This file or folder now exists at this path, with this metadata.
    Present(Entry),
    /// Whatever was at this path (a folder: with everything in it) is gone.
    Deleted(NodePath),
}

/// One page of changes.
#[derive(Debug, Clone)]
pub struct ChangePage {
    /// The changes, in the order to apply them.
    pub entries: Vec<FeedEntry>,
    /// Where to continue from.
    pub cursor: ChangeCursor,
    /// Whether more changes are waiting.
    pub has_more: bool,
}

/// Most entries a moved-in or restored folder may bring into one page; a larger one asks the
/// client to list again.
const MAX_REPLAYED_SUBTREE: u32 = 10_000;

impl Files {
    /// A cursor at the present moment of `path`'s changes (nothing before it will be replayed).
    pub async fn latest_cursor(
        &self,
        caller: &Principal,
        path: &str,
        recursive: bool,
    ) -> Result<ChangeCursor, AppError> {
        let target = Target::parse(path)?;
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let (folder, place) = match self.locate(tx.as_mut(), &access, &target).await? {
            Located::Root => (
                access.home.root,
                Place {
                    namespace: access.home.id,
                    folder: access.home.root,
                    path: NodePath::root(),
                },
            ),
            Located::Entry(entry) if entry.node.is_folder() => {
                let (namespace, contents) = self.contents(tx.as_mut(), &entry.node).await?;
                let place = Place {
                    namespace,
                    folder: contents,
                    path: entry.path,
                };
                (entry.node.id, place)
            }
            Located::Entry(_) => {
                return Err(AppError::NotAllowed("only folders have a change feed"));
            }
        };
        let mut namespaces = vec![place.namespace];
        if recursive {
            for membership in access.memberships() {
                let below = self
                    .mount_path(tx.as_mut(), &access, membership.namespace)
                    .await?
                    .is_some_and(|mount| place.path.contains(&mount) && mount != place.path);
                if below && membership.namespace != place.namespace {
                    namespaces.push(membership.namespace);
                }
            }
        }
        let mut positions = Vec::with_capacity(namespaces.len());
        for namespace in namespaces {
            positions.push((namespace, tx.changes().position(namespace).await?.0));
        }
        Ok(ChangeCursor {
            folder,
            recursive,
            positions,
            account: Some(caller.user_id),
        })
    }

    /// What changed below the cursor's folder since the cursor, up to `limit` journal entries
    /// at a time. A cursor older than the kept journal, or whose folder is gone, answers
    /// [`AppError::CursorReset`]: the client lists the folder again.
    pub async fn changes_since(
        &self,
        caller: &Principal,
        cursor: ChangeCursor,
        limit: u32,
    ) -> Result<ChangePage, AppError> {
        let limit = limit.clamp(1, super::content::MAX_PAGE);
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let own = cursor.positions.first().ok_or(AppError::Invalid {
            field: "cursor",
            reason: "names no journal".into(),
        })?;
        if access.role(own.0).is_none() {
            let foreign_home = tx
                .namespaces()
                .get(own.0)
                .await?
                .is_some_and(|n| n.kind == NamespaceKind::Home);
            return Err(if foreign_home {
                AppError::Invalid {
                    field: "cursor",
                    reason: "is not a cursor of this account".into(),
                }
            } else {
                AppError::CursorReset("you no longer have access to its folder")
            });
        }
        let scope = if cursor.folder == access.home.root {
            NodePath::root()
        } else {
            let folder = tx
                .nodes()
                .get(cursor.folder)
                .await?
                .filter(|n| n.trashed_at.is_none() && access.role(n.namespace).is_some());
            let path = match folder {
                Some(folder) => self.view_path_of(tx.as_mut(), &access, &folder).await?,
                None => None,
            };
            path.ok_or(AppError::CursorReset(
                "its folder was moved to the trash or deleted",
            ))?
        };
        let in_scope = |path: &NodePath| {
            scope.contains(path)
                && !path.contains(&scope)
                && (cursor.recursive || path.parent().is_some_and(|p| p == scope))
        };

        // Namespaces the caller no longer reaches are dropped: the mount point's removal, in
        // their home's journal, tells the client.
        let mut positions: Vec<(NamespaceId, u64)> = cursor
            .positions
            .iter()
            .copied()
            .filter(|(namespace, _)| access.role(*namespace).is_some())
            .collect();
        for (namespace, seq) in &positions {
            let (_, floor) = tx.changes().position(*namespace).await?;
            if *seq < floor {
                return Err(AppError::CursorReset(
                    "the changes since it are no longer kept",
                ));
            }
        }

        let mut entries = Vec::new();
        let mut budget = limit;
        let mut has_more = false;
        let mut index = 0;
        while index < positions.len() {
            let (namespace, after) = positions[index];
            index += 1;
            if budget == 0 {
                has_more = true;
                break;
            }
            let changes = tx.changes().since(namespace, after, budget).await?;
            if changes.len() == budget as usize {
                has_more = true;
            }
            budget -= changes.len() as u32;
            let mount = self.mount_path(tx.as_mut(), &access, namespace).await?;
            for change in changes {
                positions[index - 1].1 = change.seq;
                let node = tx
                    .nodes()
                    .get(change.node)
                    .await?
                    .filter(|n| n.trashed_at.is_none());
                let now = match node {
                    Some(node) => self
                        .view_path_of(tx.as_mut(), &access, &node)
                        .await?
                        .map(|path| Entry { node, path }),
                    None => None,
                };
                let before = match (&mount, &change.path_before) {
                    (Some(mount), Some(before)) => Some(mount.concat(before)),
                    _ => None,
                };
                let moved = now.as_ref().map(|e| &e.path) != before.as_ref();
                if let Some(before) = before.filter(|b| in_scope(b))
                    && (moved || now.is_none())
                {
                    entries.push(FeedEntry::Deleted(before));
                }
                let Some(entry) = now.filter(|e| in_scope(&e.path)) else {
                    continue;
                };
                // A shared folder newly mounted in scope joins the feed from now on.
                let mut joins = false;
                if let Some(shared) = entry.node.mount.filter(|_| cursor.recursive)
                    && access.role(shared).is_some()
                    && !positions.iter().any(|(n, _)| *n == shared)
                {
                    let (seq, _) = tx.changes().position(shared).await?;
                    positions.push((shared, seq));
                    joins = true;
                }
                // A folder that appears (created, moved in, restored, copied, mounted) brings
                // its content.
                let appears = entry.node.is_folder() && (moved || joins) && cursor.recursive;
                let folder = (entry.node.clone(), entry.path.clone());
                entries.push(FeedEntry::Present(entry));
                if appears {
                    self.replay_subtree(tx.as_mut(), folder, &mut entries)
                        .await?;
                }
            }
        }
        Ok(ChangePage {
            entries,
            cursor: ChangeCursor {
                positions,
                ..cursor
            },
            has_more,
        })
    }

    /// Completes as soon as one of `cursor`'s namespaces has changes the cursor has not seen (at
    /// once if it has some already). Needs no account: the cursor is trusted because it is
    /// signed. The caller bounds the wait (longpoll timeout).
    pub async fn wait_for_changes(&self, cursor: ChangeCursor) -> Result<(), AppError> {
        // Subscribe before looking, so a change between the look and the wait is not missed.
        let wakeups: Vec<_> = cursor
            .positions
            .iter()
            .map(|(namespace, _)| self.ports.notifier.next_change(*namespace))
            .collect();
        {
            let mut tx = self.ports.uow.begin_read().await?;
            self.check_cursor_reach(tx.as_mut(), &cursor).await?;
            for (namespace, seen) in &cursor.positions {
                let (seq, _) = tx.changes().position(*namespace).await?;
                if seq > *seen {
                    return Ok(());
                }
            }
        }
        if !wakeups.is_empty() {
            futures_util::future::select_all(wakeups).await;
        }
        Ok(())
    }

    /// A cursor whose namespaces are gone (a shared folder was unshared), or that its account
    /// no longer reaches (it left the folder, or was removed), must be reset, as `continue`
    /// says too.
    async fn check_cursor_reach(
        &self,
        tx: &mut dyn Transaction,
        cursor: &ChangeCursor,
    ) -> Result<(), AppError> {
        let lost = || AppError::CursorReset("you no longer have access to its folder");
        for (namespace, _) in &cursor.positions {
            if tx.namespaces().get(*namespace).await?.is_none() {
                return Err(lost());
            }
        }
        let Some(account) = cursor.account else {
            return Ok(());
        };
        let Some(home) = tx.namespaces().home_of(account).await? else {
            return Err(lost());
        };
        let memberships = tx.members().of_user(account).await?;
        let access = Access::new(home, memberships);
        if cursor
            .positions
            .iter()
            .any(|(namespace, _)| access.role(*namespace).is_none())
        {
            return Err(lost());
        }
        Ok(())
    }

    /// Appends everything live below a folder that just appeared (for a mount point: in the
    /// shared folder), parents first.
    async fn replay_subtree(
        &self,
        tx: &mut dyn Transaction,
        (folder, folder_path): (Node, NodePath),
        entries: &mut Vec<FeedEntry>,
    ) -> Result<(), AppError> {
        let (_, root) = self.contents(tx, &folder).await?;
        let nodes = tx.nodes().subtree(root, MAX_REPLAYED_SUBTREE + 1).await?;
        if nodes.len() > MAX_REPLAYED_SUBTREE as usize {
            return Err(AppError::CursorReset(
                "a folder with too many entries appeared",
            ));
        }
        let mut paths = HashMap::from([(root, folder_path)]);
        // The subtree starts with its root, unless that is a namespace's root (not a node).
        for node in nodes.into_iter().filter(|n| n.id != root) {
            let path = paths[&node.parent].join(node.name.clone());
            paths.insert(node.id, path.clone());
            entries.push(FeedEntry::Present(Entry { node, path }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::SignupPolicy;

    use super::FeedEntry;
    use crate::files::UploadMode;
    use crate::testing::TestEnv;
    use crate::{AppError, Principal};

    async fn setup() -> (TestEnv, Principal) {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let me = env.principal("a@example.org").await;
        (env, me)
    }

    fn describe(entries: &[FeedEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                FeedEntry::Present(entry) => format!("+{}", entry.path),
                FeedEntry::Deleted(path) => format!("-{path}"),
            })
            .collect()
    }

    /// A sync client's view: path (lower-cased) → display path.
    type Mirror = std::collections::BTreeMap<String, String>;

    async fn listing(env: &TestEnv, me: &Principal, path: &str) -> Mirror {
        let page = env
            .files
            .list_folder(me, path, true, 2000, None)
            .await
            .unwrap();
        page.entries
            .iter()
            .map(|e| (e.path.to_string().to_lowercase(), e.path.to_string()))
            .collect()
    }

    fn apply(mirror: &mut Mirror, entries: &[FeedEntry]) {
        for entry in entries {
            match entry {
                FeedEntry::Deleted(path) => {
                    let gone = path.to_string().to_lowercase();
                    mirror.retain(|key, _| key != &gone && !key.starts_with(&format!("{gone}/")));
                }
                FeedEntry::Present(entry) => {
                    let path = entry.path.to_string();
                    mirror.insert(path.to_lowercase(), path);
                }
            }
        }
    }

    #[tokio::test]
    async fn applying_the_feed_to_a_listing_converges_on_the_new_listing() {
        let (env, me) = setup().await;
        env.upload(&me, "/Docs/old.txt", b"o").await;
        env.upload(&me, "/Docs/Sub/keep.txt", b"k").await;
        env.upload(&me, "/Elsewhere/Album/a.jpg", b"a").await;
        let mut mirror = listing(&env, &me, "/").await;
        let cursor = env.files.latest_cursor(&me, "/", true).await.unwrap();
        assert!(
            env.files
                .changes_since(&me, cursor.clone(), 10)
                .await
                .unwrap()
                .entries
                .is_empty()
        );

        env.upload(&me, "/Docs/new.txt", b"n").await;
        env.upload_with(&me, "/Docs/old.txt", b"o2", UploadMode::Overwrite)
            .await
            .unwrap();
        env.files
            .move_entry(&me, "/Docs/new.txt", "/Docs/renamed.txt", false)
            .await
            .unwrap();
        env.files.delete(&me, "/Docs/old.txt").await.unwrap();
        env.files
            .move_entry(&me, "/Docs/Sub", "/Moved Sub", false)
            .await
            .unwrap();
        env.files
            .copy_entry(&me, "/Elsewhere/Album", "/Docs/Album copy", false)
            .await
            .unwrap();
        env.files
            .create_folder(&me, "/Docs/Empty", false, false)
            .await
            .unwrap();
        env.files.delete(&me, "/Elsewhere").await.unwrap();
        let trash = env.files.list_trash(&me, None, 10).await.unwrap();
        let old = trash
            .items
            .iter()
            .find(|i| i.original_path.to_string() == "/Docs/old.txt")
            .unwrap();
        env.files.restore(&me, old.node.id, true).await.unwrap();

        let mut cursor = cursor;
        loop {
            let page = env
                .files
                .changes_since(&me, cursor.clone(), 2)
                .await
                .unwrap();
            apply(&mut mirror, &page.entries);
            cursor = page.cursor;
            if !page.has_more {
                break;
            }
        }
        assert_eq!(mirror, listing(&env, &me, "/").await);
        assert!(
            env.files
                .changes_since(&me, cursor.clone(), 10)
                .await
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_folder_moving_in_brings_its_content_and_moving_out_deletes_it() {
        let (env, me) = setup().await;
        env.upload(&me, "/Outside/Album/a.jpg", b"a").await;
        env.upload(&me, "/Outside/Album/Sub/b.jpg", b"b").await;
        env.files
            .create_folder(&me, "/Watched", false, false)
            .await
            .unwrap();
        let cursor = env
            .files
            .latest_cursor(&me, "/Watched", true)
            .await
            .unwrap();

        env.files
            .move_entry(&me, "/Outside/Album", "/Watched/Album", false)
            .await
            .unwrap();
        env.upload(&me, "/Outside/unrelated.txt", b"u").await;
        let page = env
            .files
            .changes_since(&me, cursor.clone(), 100)
            .await
            .unwrap();
        assert_eq!(
            describe(&page.entries),
            [
                "+/Watched/Album",
                "+/Watched/Album/a.jpg",
                "+/Watched/Album/Sub",
                "+/Watched/Album/Sub/b.jpg"
            ],
            "parents before children; nothing from outside"
        );

        env.files
            .move_entry(&me, "/Watched/Album", "/Outside/Back", false)
            .await
            .unwrap();
        let page = env
            .files
            .changes_since(&me, page.cursor, 100)
            .await
            .unwrap();
        assert_eq!(describe(&page.entries), ["-/Watched/Album"]);
    }

    #[tokio::test]
    async fn waiting_ends_at_once_for_a_stale_cursor_and_otherwise_at_the_next_change() {
        let (env, me) = setup().await;
        let cursor = env.files.latest_cursor(&me, "/", true).await.unwrap();
        env.upload(&me, "/one.txt", b"1").await;
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            env.files.wait_for_changes(cursor.clone()),
        )
        .await
        .expect("changes were already there")
        .unwrap();

        let current = env.files.latest_cursor(&me, "/", true).await.unwrap();
        let waiting = env.files.wait_for_changes(current);
        let change = async {
            tokio::task::yield_now().await;
            env.upload(&me, "/two.txt", b"2").await;
        };
        let (woke, ()) = tokio::join!(
            tokio::time::timeout(std::time::Duration::from_secs(5), waiting),
            change
        );
        woke.expect("woken by the upload").unwrap();
        assert!(env.notifier.announced() >= 2);
    }

    #[tokio::test]
    async fn a_non_recursive_cursor_sees_only_the_folder_itself() {
        let (env, me) = setup().await;
        env.files
            .create_folder(&me, "/Top", false, false)
            .await
            .unwrap();
        let cursor = env.files.latest_cursor(&me, "/Top", false).await.unwrap();
        env.upload(&me, "/Top/direct.txt", b"d").await;
        env.upload(&me, "/Top/Deep/nested.txt", b"n").await;
        let page = env
            .files
            .changes_since(&me, cursor.clone(), 100)
            .await
            .unwrap();
        assert_eq!(describe(&page.entries), ["+/Top/direct.txt", "+/Top/Deep"]);
    }

    #[tokio::test]
    async fn old_or_orphaned_cursors_and_foreign_ones_are_refused() {
        let (env, me) = setup().await;
        env.files
            .create_folder(&me, "/F", false, false)
            .await
            .unwrap();
        let folder_cursor = env.files.latest_cursor(&me, "/F", true).await.unwrap();
        let root_cursor = env.files.latest_cursor(&me, "/", true).await.unwrap();
        env.upload(&me, "/F/x.txt", b"x").await;
        env.files.delete(&me, "/F").await.unwrap();
        let err = env
            .files
            .changes_since(&me, folder_cursor.clone(), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::CursorReset(_)), "{err:?}");

        env.clock
            .advance(env.storage.journal_retention + chrono::Duration::seconds(1));
        env.files.collect_garbage(&mut |_| {}).await.unwrap();
        let err = env
            .files
            .changes_since(&me, root_cursor.clone(), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::CursorReset(_)), "{err:?}");

        env.member("b@example.org").await;
        let other = env.principal("b@example.org").await;
        let fresh = env.files.latest_cursor(&me, "/", true).await.unwrap();
        let err = env
            .files
            .changes_since(&other, fresh.clone(), 10)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            AppError::Invalid {
                field: "cursor",
                ..
            }
        ));
    }
}
