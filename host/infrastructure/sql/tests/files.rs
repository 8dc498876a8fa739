//! File repositories against real databases: every test runs on SQLite and on PostgreSQL.

use chrono::{TimeZone, Utc};
use coffer_application::ports::{RepositoryError, Transaction, UnitOfWork};
use coffer_domain::Timestamp;
use coffer_domain::account::{ByteCount, Email, PasswordHash, User, UserId};
use coffer_domain::files::{
    BlockHash, Namespace, NamespaceId, NamespaceKind, Node, NodeId, NodeKind, NodeName, NodePath,
    Revision, RevisionId, SessionBlock, SessionKind, UploadId, UploadSession, WriteMode,
};
use coffer_domain::sharing::{Invitation, LinkId, Membership, Role, SharedLink};
use coffer_sql::testing::TestDatabase;
use coffer_sql::{Backend, SqlStore, StoreOptions};
use uuid::Uuid;

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $test() { super::run(coffer_sql::Backend::Sqlite, super::$test).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $test() { super::run(coffer_sql::Backend::Postgres, super::$test).await } )*
        }
    };
}

on_both_backends!(
    live_names_are_unique_per_folder_by_key,
    tree_queries_follow_parents_and_skip_trashed_descendants,
    trash_pages_newest_first_and_deleting_a_subtree_takes_its_revisions,
    revisions_keep_their_blocks_in_order_and_old_ones_are_pruned,
    blocks_are_collected_only_when_unreferenced_and_untouched,
    usage_is_counted_per_owner,
    search_matches_substrings_literally_and_pages,
    the_journal_numbers_changes_per_namespace_and_prunes_with_a_floor,
    sharing_moves_a_subtree_into_its_own_namespace_and_members_mount_it,
    upload_sessions_append_by_offset_and_keep_their_blocks_from_collection,
    delta_sessions_mark_blocks_present_and_find_blocks_by_namespace,
    links_into_a_namespace_include_its_mount_points_and_folders_above_them,
    invitations_are_kept_per_folder_and_taken_by_email,
);

struct World {
    store: SqlStore,
    namespace: Namespace,
}

async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::new(backend).await;
    let store = SqlStore::connect(db.url(), &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let user = User::register(
        UserId::from_uuid(Uuid::from_u128(1)),
        Email::parse("a@example.org").unwrap(),
        PasswordHash::from_phc("$x".into()),
        false,
        at(0),
    );
    let namespace = Namespace {
        id: NamespaceId::from_uuid(Uuid::from_u128(2)),
        kind: NamespaceKind::Home,
        owner: user.id(),
        root: NodeId::from_uuid(Uuid::from_u128(3)),
        used: ByteCount::default(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&user).await.unwrap();
    tx.namespaces().insert(&namespace, at(0)).await.unwrap();
    tx.commit().await.unwrap();
    test(World {
        store: store.clone(),
        namespace,
    })
    .await;
    store.close().await;
}

fn at(seconds: i64) -> Timestamp {
    Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
}

fn id(n: u128) -> NodeId {
    NodeId::from_uuid(Uuid::from_u128(1000 + n))
}

fn folder(world: &World, n: u128, parent: NodeId, name: &str) -> Node {
    Node {
        id: id(n),
        namespace: world.namespace.id,
        parent,
        name: NodeName::parse(name).unwrap(),
        kind: NodeKind::Folder,
        file: None,
        created_at: at(0),
        modified_at: at(0),
        trashed_at: None,
        mount: None,
    }
}

/// A file node and its revision over `blocks` (which must be touched first).
fn file(
    world: &World,
    n: u128,
    parent: NodeId,
    name: &str,
    size: u64,
    blocks: Vec<BlockHash>,
) -> (Node, Revision) {
    let revision = Revision::new(
        RevisionId::from_uuid(Uuid::from_u128(5000 + n)),
        id(n),
        ByteCount::new(size).unwrap(),
        blocks,
        Some("text/plain".into()),
        at(1),
        at(2),
    )
    .unwrap();
    let mut node = folder(world, n, parent, name);
    node.kind = NodeKind::File;
    node.file = Some(revision.version());
    (node, revision)
}

async fn add_file(tx: &mut dyn Transaction, node: &Node, revision: &Revision) {
    for block in revision.blocks() {
        tx.blocks().touch(block, 1, at(0)).await.unwrap();
    }
    tx.nodes().insert(node).await.unwrap();
    tx.revisions().insert(revision).await.unwrap();
}

async fn live_names_are_unique_per_folder_by_key(world: World) {
    let root = world.namespace.root;
    let mut tx = world.store.begin().await.unwrap();
    tx.nodes()
        .insert(&folder(&world, 1, root, "Caf\u{e9}"))
        .await
        .unwrap();
    let err = tx
        .nodes()
        .insert(&folder(&world, 2, root, "CAFE\u{301}"))
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Conflict("name")), "{err:?}");
    drop(tx);

    let mut tx = world.store.begin().await.unwrap();
    let mut first = folder(&world, 1, root, "Docs");
    tx.nodes().insert(&first).await.unwrap();
    first.trashed_at = Some(at(5));
    tx.nodes().update(&first).await.unwrap();
    // A trashed node frees its name.
    tx.nodes()
        .insert(&folder(&world, 2, root, "docs"))
        .await
        .unwrap();
    let found = tx.nodes().child(root, "docs").await.unwrap().unwrap();
    assert_eq!(found.id, id(2));
    assert_eq!(tx.nodes().get(id(1)).await.unwrap().unwrap(), first);
    assert_eq!(
        tx.nodes().get(world.namespace.root).await.unwrap(),
        None,
        "roots are no entries"
    );
    tx.commit().await.unwrap();
}

async fn tree_queries_follow_parents_and_skip_trashed_descendants(world: World) {
    let root = world.namespace.root;
    let mut tx = world.store.begin().await.unwrap();
    let a = folder(&world, 1, root, "a");
    let b = folder(&world, 2, a.id, "b");
    tx.nodes().insert(&a).await.unwrap();
    tx.nodes().insert(&b).await.unwrap();
    let (f1, r1) = file(&world, 3, b.id, "one.txt", 10, vec![BlockHash::of(b"1")]);
    let (f2, r2) = file(&world, 4, a.id, "two.txt", 7, vec![BlockHash::of(b"2")]);
    let (mut f3, r3) = file(&world, 5, a.id, "three.txt", 100, vec![BlockHash::of(b"3")]);
    add_file(tx.as_mut(), &f1, &r1).await;
    add_file(tx.as_mut(), &f2, &r2).await;
    add_file(tx.as_mut(), &f3, &r3).await;
    f3.trashed_at = Some(at(9));
    tx.nodes().update(&f3).await.unwrap();

    let chain: Vec<NodeId> = tx
        .nodes()
        .ancestors(f1.id)
        .await
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(chain, [b.id, a.id], "nearest first, root excluded");
    assert!(tx.nodes().ancestors(a.id).await.unwrap().is_empty());
    assert_eq!(
        tx.nodes().subtree_bytes(a.id).await.unwrap(),
        17,
        "the trashed file is not counted"
    );
    assert_eq!(
        tx.nodes().subtree_bytes(f3.id).await.unwrap(),
        100,
        "a trashed node counts itself"
    );
    let subtree: Vec<NodeId> = tx
        .nodes()
        .subtree(a.id, 10)
        .await
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(
        subtree,
        [a.id, b.id, f2.id, f1.id],
        "parents before children"
    );
    assert_eq!(tx.nodes().subtree(a.id, 2).await.unwrap().len(), 2);

    let page = tx.nodes().children(a.id, None, 1).await.unwrap();
    assert_eq!(page[0].id, b.id);
    let rest = tx
        .nodes()
        .children(a.id, Some(&page[0].name.key()), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|n| n.id).collect::<Vec<_>>(),
        [f2.id],
        "trashed children are hidden"
    );
    assert_eq!(
        tx.nodes().get(f1.id).await.unwrap().unwrap(),
        f1,
        "files round-trip"
    );
}

async fn trash_pages_newest_first_and_deleting_a_subtree_takes_its_revisions(world: World) {
    let root = world.namespace.root;
    let mut tx = world.store.begin().await.unwrap();
    let mut trashed = Vec::new();
    for n in 1..=3u128 {
        let mut node = folder(&world, n, root, &format!("f{n}"));
        node.trashed_at = Some(at(n as i64 * 10));
        tx.nodes().insert(&node).await.unwrap();
        trashed.push(node);
    }
    let (inner, revision) = file(
        &world,
        9,
        trashed[0].id,
        "in.txt",
        1,
        vec![BlockHash::of(b"i")],
    );
    add_file(tx.as_mut(), &inner, &revision).await;

    let first = tx
        .nodes()
        .trashed(world.namespace.id, None, 2)
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|n| n.id).collect::<Vec<_>>(),
        [id(3), id(2)]
    );
    let last = first.last().unwrap();
    let after = (last.trashed_at.unwrap(), last.id);
    let second = tx
        .nodes()
        .trashed(world.namespace.id, Some(after), 2)
        .await
        .unwrap();
    assert_eq!(second.iter().map(|n| n.id).collect::<Vec<_>>(), [id(1)]);
    let old = tx.nodes().trashed_before(at(25), 10).await.unwrap();
    assert_eq!(old.iter().map(|n| n.id).collect::<Vec<_>>(), [id(1), id(2)]);

    assert_eq!(tx.nodes().delete_subtree(id(1)).await.unwrap(), 2);
    assert_eq!(tx.nodes().get(inner.id).await.unwrap(), None);
    assert_eq!(
        tx.revisions().get(revision.id()).await.unwrap(),
        None,
        "revisions go with their file"
    );
    tx.commit().await.unwrap();
}

async fn revisions_keep_their_blocks_in_order_and_old_ones_are_pruned(world: World) {
    let root = world.namespace.root;
    let a = BlockHash::of(b"a");
    let b = BlockHash::of(b"b");
    let size = coffer_domain::files::BLOCK_SIZE as u64 * 2 + 1;
    let mut tx = world.store.begin().await.unwrap();
    let (mut node, old) = file(&world, 1, root, "f.bin", size, vec![b, a, b]);
    add_file(tx.as_mut(), &node, &old).await;
    assert_eq!(
        tx.revisions().get(old.id()).await.unwrap(),
        Some(old.clone())
    );

    let new = old.reuse(RevisionId::from_uuid(Uuid::from_u128(77)), node.id, at(50));
    tx.revisions().insert(&new).await.unwrap();
    node.file = Some(new.version());
    tx.nodes().update(&node).await.unwrap();
    let listed = tx.revisions().list_for_node(node.id, 10).await.unwrap();
    assert_eq!(listed, vec![new.clone(), old.clone()]);
    tx.commit().await.unwrap();

    let mut tx = world.store.begin().await.unwrap();
    let unindexed = Revision::new(
        RevisionId::from_uuid(Uuid::from_u128(78)),
        node.id,
        ByteCount::new(1).unwrap(),
        vec![BlockHash::of(b"never stored")],
        None,
        at(0),
        at(0),
    )
    .unwrap();
    assert!(
        tx.revisions().insert(&unindexed).await.is_err(),
        "blocks must be indexed"
    );
    drop(tx);

    let mut tx = world.store.begin().await.unwrap();
    assert_eq!(
        tx.revisions().prune_before(at(1), 10).await.unwrap(),
        0,
        "nothing is that old"
    );
    let pruned = tx.revisions().prune_before(at(100), 10).await.unwrap();
    assert_eq!(pruned, 1, "only the replaced revision goes");
    assert_eq!(
        tx.revisions().list_for_node(node.id, 10).await.unwrap(),
        vec![new]
    );
    tx.commit().await.unwrap();
}

async fn blocks_are_collected_only_when_unreferenced_and_untouched(world: World) {
    let root = world.namespace.root;
    let used = BlockHash::of(b"used");
    let orphan = BlockHash::of(b"orphan");
    let fresh = BlockHash::of(b"fresh");
    let mut tx = world.store.begin().await.unwrap();
    let (node, revision) = file(&world, 1, root, "f", 1, vec![used]);
    add_file(tx.as_mut(), &node, &revision).await;
    tx.blocks().touch(&orphan, 3, at(0)).await.unwrap();
    tx.blocks().touch(&fresh, 3, at(100)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = world.store.begin().await.unwrap();
    assert!(
        tx.blocks()
            .touch_existing(&[used, orphan], at(1))
            .await
            .unwrap()
    );
    assert!(
        !tx.blocks()
            .touch_existing(&[BlockHash::of(b"unknown")], at(1))
            .await
            .unwrap()
    );
    let collected = tx.blocks().collect(at(50), 10).await.unwrap();
    assert_eq!(collected, vec![orphan]);
    assert!(tx.blocks().collect(at(50), 10).await.unwrap().is_empty());
    tx.commit().await.unwrap();
}

async fn usage_is_counted_per_owner(world: World) {
    let mut tx = world.store.begin().await.unwrap();
    tx.namespaces()
        .add_usage(world.namespace.id, 1000)
        .await
        .unwrap();
    tx.namespaces()
        .add_usage(world.namespace.id, -400)
        .await
        .unwrap();
    let locked = tx.namespaces().lock(world.namespace.id).await.unwrap();
    assert_eq!(locked.used.get(), 600);
    assert_eq!(
        tx.namespaces()
            .usage_of_owner(world.namespace.owner)
            .await
            .unwrap(),
        600
    );
    let home = tx
        .namespaces()
        .home_of(world.namespace.owner)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(home, locked);
    let stranger = UserId::from_uuid(Uuid::from_u128(99));
    assert_eq!(tx.namespaces().usage_of_owner(stranger).await.unwrap(), 0);
    assert_eq!(tx.namespaces().home_of(stranger).await.unwrap(), None);
    tx.commit().await.unwrap();
}

async fn search_matches_substrings_literally_and_pages(world: World) {
    let root = world.namespace.root;
    let mut tx = world.store.begin().await.unwrap();
    let names = [
        "annual report.pdf",
        "Report_2026",
        "100% done",
        "reporter",
        "notes",
    ];
    for (i, name) in names.iter().enumerate() {
        tx.nodes()
            .insert(&folder(&world, i as u128 + 1, root, name))
            .await
            .unwrap();
    }
    let mut trashed = folder(&world, 9, root, "trashed report");
    trashed.trashed_at = Some(at(1));
    tx.nodes().insert(&trashed).await.unwrap();
    let keys = |nodes: Vec<Node>| nodes.into_iter().map(|n| n.name.key()).collect::<Vec<_>>();

    let all = tx
        .nodes()
        .search(world.namespace.id, "report", None, 10)
        .await
        .unwrap();
    assert_eq!(keys(all), ["annual report.pdf", "report_2026", "reporter"]);
    let first = tx
        .nodes()
        .search(world.namespace.id, "report", None, 2)
        .await
        .unwrap();
    let last = first.last().unwrap();
    let after = (last.name.key(), last.id);
    let rest = tx
        .nodes()
        .search(
            world.namespace.id,
            "report",
            Some((after.0.as_str(), after.1)),
            2,
        )
        .await
        .unwrap();
    assert_eq!(keys(rest), ["reporter"]);
    // LIKE's wildcards are matched literally.
    assert_eq!(
        keys(
            tx.nodes()
                .search(world.namespace.id, "t_2", None, 10)
                .await
                .unwrap()
        ),
        ["report_2026"]
    );
    assert!(
        tx.nodes()
            .search(world.namespace.id, "t%2", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        keys(
            tx.nodes()
                .search(world.namespace.id, "0% d", None, 10)
                .await
                .unwrap()
        ),
        ["100% done"]
    );
    let elsewhere = NamespaceId::from_uuid(Uuid::from_u128(77));
    assert!(
        tx.nodes()
            .search(elsewhere, "report", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_journal_numbers_changes_per_namespace_and_prunes_with_a_floor(world: World) {
    let ns = world.namespace.id;
    let path = coffer_domain::files::NodePath::parse("/Old Name/é.txt").unwrap();
    let mut tx = world.store.begin().await.unwrap();
    assert_eq!(tx.changes().position(ns).await.unwrap(), (0, 0));
    assert_eq!(
        tx.changes().append(ns, id(1), None, at(10)).await.unwrap(),
        1
    );
    assert_eq!(
        tx.changes()
            .append(ns, id(2), Some(&path), at(20))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tx.changes().append(ns, id(3), None, at(30)).await.unwrap(),
        3
    );
    tx.commit().await.unwrap();

    let mut tx = world.store.begin().await.unwrap();
    let since = tx.changes().since(ns, 1, 10).await.unwrap();
    assert_eq!(since.iter().map(|c| c.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(since[0].path_before.as_ref(), Some(&path));
    assert_eq!(since[0].node, id(2));
    assert_eq!(tx.changes().since(ns, 0, 1).await.unwrap().len(), 1);
    assert_eq!(tx.changes().prune_before(at(25)).await.unwrap(), 2);
    assert_eq!(
        tx.changes().position(ns).await.unwrap(),
        (3, 2),
        "floor below the oldest kept"
    );
    assert_eq!(tx.changes().prune_before(at(100)).await.unwrap(), 1);
    assert_eq!(
        tx.changes().position(ns).await.unwrap(),
        (3, 3),
        "everything pruned"
    );
    tx.commit().await.unwrap();
}

async fn sharing_moves_a_subtree_into_its_own_namespace_and_members_mount_it(world: World) {
    let mut tx = world.store.begin().await.unwrap();
    let home = world.namespace.clone();
    let team = folder(&world, 1, home.root, "Team");
    let docs = folder(&world, 2, team.id, "Docs");
    let mut old = folder(&world, 3, team.id, "Old");
    old.trashed_at = Some(at(1));
    for node in [&team, &docs, &old] {
        tx.nodes().insert(node).await.unwrap();
    }
    let shared = Namespace {
        id: NamespaceId::from_uuid(Uuid::from_u128(20)),
        kind: NamespaceKind::Shared,
        owner: home.owner,
        root: NodeId::from_uuid(Uuid::from_u128(21)),
        used: ByteCount::default(),
    };
    tx.namespaces().insert(&shared, at(2)).await.unwrap();
    tx.nodes()
        .move_children(team.id, shared.root)
        .await
        .unwrap();
    let moved = tx
        .nodes()
        .rehome_subtree(shared.root, shared.id)
        .await
        .unwrap();
    assert_eq!(moved, 3, "the root, and both children (trashed ones too)");
    let mut mount = team.clone();
    mount.mount = Some(shared.id);
    tx.nodes().update(&mount).await.unwrap();
    let owner = Membership {
        namespace: shared.id,
        user: home.owner,
        role: Role::Owner,
        mount: mount.id,
        joined_at: at(2),
    };
    tx.members().insert(&owner).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = world.store.begin().await.unwrap();
    assert_eq!(
        tx.nodes().get(team.id).await.unwrap().unwrap().mount,
        Some(shared.id)
    );
    let docs_now = tx.nodes().get(docs.id).await.unwrap().unwrap();
    assert_eq!(
        (docs_now.namespace, docs_now.parent),
        (shared.id, shared.root)
    );
    assert!(
        tx.nodes()
            .children(team.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(tx.nodes().ancestors(docs.id).await.unwrap(), vec![]);
    let subtree = tx.nodes().subtree(shared.root, 10).await.unwrap();
    assert_eq!(
        subtree.iter().map(|n| n.id).collect::<Vec<_>>(),
        [docs.id],
        "a namespace root is no entry; trashed children are left out"
    );
    assert_eq!(
        tx.namespaces().get(shared.id).await.unwrap().unwrap(),
        shared
    );
    assert_eq!(
        tx.namespaces()
            .home_of(home.owner)
            .await
            .unwrap()
            .unwrap()
            .id,
        home.id
    );
    assert_eq!(
        tx.members().insert(&owner).await.unwrap_err().to_string(),
        RepositoryError::Conflict("member").to_string()
    );
    drop(tx);

    // A second member and their mount point.
    let mut tx = world.store.begin().await.unwrap();
    let other = User::register(
        UserId::from_uuid(Uuid::from_u128(30)),
        Email::parse("b@example.org").unwrap(),
        PasswordHash::from_phc("$x".into()),
        false,
        at(0),
    );
    tx.users().insert(&other).await.unwrap();
    let mut their_mount = folder(&world, 4, home.root, "Their view");
    their_mount.mount = Some(shared.id);
    tx.nodes().insert(&their_mount).await.unwrap();
    let member = Membership {
        namespace: shared.id,
        user: other.id(),
        role: Role::Viewer,
        mount: their_mount.id,
        joined_at: at(3),
    };
    tx.members().insert(&member).await.unwrap();
    tx.members()
        .set_role(shared.id, other.id(), Role::Editor)
        .await
        .unwrap();
    let members = tx.members().of_namespace(shared.id).await.unwrap();
    assert_eq!(
        members.iter().map(|m| (m.user, m.role)).collect::<Vec<_>>(),
        [(home.owner, Role::Owner), (other.id(), Role::Editor)]
    );
    assert_eq!(tx.members().of_user(other.id()).await.unwrap().len(), 1);
    assert!(tx.members().delete(shared.id, other.id()).await.unwrap());
    assert!(!tx.members().delete(shared.id, other.id()).await.unwrap());
    assert_eq!(tx.members().get(shared.id, other.id()).await.unwrap(), None);
    tx.members().insert(&member).await.unwrap();

    // Unsharing: the content goes back, then the namespace (with mounts and members) goes.
    tx.nodes()
        .move_children(shared.root, team.id)
        .await
        .unwrap();
    tx.nodes().rehome_subtree(team.id, home.id).await.unwrap();
    mount.mount = None;
    tx.nodes().update(&mount).await.unwrap();
    tx.namespaces().delete(shared.id).await.unwrap();
    assert_eq!(tx.namespaces().get(shared.id).await.unwrap(), None);
    assert_eq!(tx.nodes().get(their_mount.id).await.unwrap(), None);
    assert!(tx.members().of_user(home.owner).await.unwrap().is_empty());
    assert!(tx.members().of_user(other.id()).await.unwrap().is_empty());
    let docs_back = tx.nodes().get(docs.id).await.unwrap().unwrap();
    assert_eq!((docs_back.namespace, docs_back.parent), (home.id, team.id));
    tx.commit().await.unwrap();
}

fn session(n: u128, kind: SessionKind, length: u64, expires: i64) -> UploadSession {
    UploadSession {
        id: UploadId::from_uuid(Uuid::from_u128(9000 + n)),
        owner: UserId::from_uuid(Uuid::from_u128(1)),
        kind,
        path: NodePath::parse("/Uploads/big file.bin").unwrap(),
        mode: WriteMode::Update(RevisionId::from_uuid(Uuid::from_u128(77))),
        autorename: true,
        client_modified: Some(at(-5)),
        media_type: Some("video/mp4".into()),
        length,
        received: 0,
        created_at: at(0),
        expires_at: at(expires),
        committed: None,
    }
}

fn present(data: &[u8]) -> SessionBlock {
    SessionBlock {
        hash: BlockHash::of(data),
        size: data.len() as u32,
        present: true,
    }
}

async fn upload_sessions_append_by_offset_and_keep_their_blocks_from_collection(world: World) {
    let stream = session(1, SessionKind::Stream, 100, 1000);
    let mut tx = world.store.begin().await.unwrap();
    tx.uploads().insert(&stream, &[]).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = world.store.begin().await.unwrap();
    assert_eq!(
        tx.uploads().get(stream.id).await.unwrap(),
        Some(stream.clone())
    );

    // Two full blocks and a partial one, then the partial one rewritten by the next append.
    let (a, b, tail, longer) = (
        present(b"aa"),
        present(b"bb"),
        present(b"t"),
        present(b"tt"),
    );
    for block in [&a, &b, &tail, &longer] {
        tx.blocks()
            .touch(&block.hash, block.size, at(0))
            .await
            .unwrap();
    }
    assert!(
        tx.uploads()
            .append(stream.id, 0, 0, &[a, b, tail], 41, at(2000))
            .await
            .unwrap()
    );
    assert!(
        !tx.uploads()
            .append(stream.id, 0, 0, &[a], 20, at(2000))
            .await
            .unwrap(),
        "the session moved on from offset 0"
    );
    assert!(
        tx.uploads()
            .append(stream.id, 41, 2, &[longer], 42, at(3000))
            .await
            .unwrap()
    );
    assert_eq!(
        tx.uploads().blocks(stream.id).await.unwrap(),
        vec![a, b, longer]
    );
    let stored = tx.uploads().get(stream.id).await.unwrap().unwrap();
    assert_eq!((stored.received, stored.expires_at), (42, at(3000)));
    assert_eq!(
        tx.uploads()
            .open_length_of(stream.owner, at(10))
            .await
            .unwrap(),
        100
    );
    tx.commit().await.unwrap();

    // Only the superseded partial block is collectable while the session lives.
    let mut tx = world.store.begin().await.unwrap();
    assert_eq!(
        tx.blocks().collect(at(50), 10).await.unwrap(),
        vec![tail.hash]
    );
    tx.commit().await.unwrap();

    // Committing drops the session's blocks; expiry deletes the session.
    let mut tx = world.store.begin().await.unwrap();
    let (node, revision) = (id(1), RevisionId::from_uuid(Uuid::from_u128(5)));
    tx.uploads()
        .mark_committed(stream.id, node, revision)
        .await
        .unwrap();
    let committed = tx.uploads().get(stream.id).await.unwrap().unwrap();
    assert_eq!(committed.committed, Some((node, revision)));
    assert!(tx.uploads().blocks(stream.id).await.unwrap().is_empty());
    assert_eq!(
        tx.uploads()
            .open_length_of(stream.owner, at(10))
            .await
            .unwrap(),
        0
    );
    assert_eq!(tx.uploads().delete_expired(at(2999), 10).await.unwrap(), 0);
    assert_eq!(tx.uploads().delete_expired(at(3001), 10).await.unwrap(), 1);
    assert_eq!(tx.uploads().get(stream.id).await.unwrap(), None);
    tx.commit().await.unwrap();
}

async fn delta_sessions_mark_blocks_present_and_find_blocks_by_namespace(world: World) {
    let root = world.namespace.root;
    let kept = BlockHash::of(b"kept");
    let mut tx = world.store.begin().await.unwrap();
    let (node, revision) = file(&world, 1, root, "f", 1, vec![kept]);
    add_file(tx.as_mut(), &node, &revision).await;
    let elsewhere = NamespaceId::from_uuid(Uuid::from_u128(404));
    let asked = [kept, BlockHash::of(b"new")];
    assert_eq!(
        tx.blocks()
            .in_namespace(world.namespace.id, &asked)
            .await
            .unwrap(),
        vec![(kept, 1)]
    );
    assert!(
        tx.blocks()
            .in_namespace(elsewhere, &asked)
            .await
            .unwrap()
            .is_empty()
    );

    let delta = session(2, SessionKind::Blocks, 3, 1000);
    let new = SessionBlock {
        present: false,
        ..present(b"new")
    };
    let declared = [new, present(b"kept"), new];
    tx.uploads().insert(&delta, &declared).await.unwrap();
    assert_eq!(
        tx.uploads()
            .mark_present(delta.id, &new.hash, at(1500))
            .await
            .unwrap(),
        2
    );
    let blocks = tx.uploads().blocks(delta.id).await.unwrap();
    assert!(blocks.iter().all(|b| b.present));
    assert_eq!(
        tx.uploads()
            .get(delta.id)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        at(1500)
    );
    assert!(tx.uploads().delete(delta.id).await.unwrap());
    assert!(!tx.uploads().delete(delta.id).await.unwrap());
    assert!(tx.uploads().blocks(delta.id).await.unwrap().is_empty());

    // An expired session goes with its blocks, which become collectable.
    let abandoned = session(3, SessionKind::Blocks, 4, 100);
    tx.uploads()
        .insert(&abandoned, &[present(b"gone")])
        .await
        .unwrap();
    tx.blocks()
        .touch(&BlockHash::of(b"gone"), 4, at(0))
        .await
        .unwrap();
    assert!(tx.blocks().collect(at(50), 10).await.unwrap().is_empty());
    assert_eq!(tx.uploads().delete_expired(at(101), 10).await.unwrap(), 1);
    assert!(tx.uploads().blocks(abandoned.id).await.unwrap().is_empty());
    assert_eq!(
        tx.blocks().collect(at(50), 10).await.unwrap(),
        vec![BlockHash::of(b"gone")]
    );
    tx.commit().await.unwrap();
}

async fn links_into_a_namespace_include_its_mount_points_and_folders_above_them(world: World) {
    let home = world.namespace.clone();
    let shared = Namespace {
        id: NamespaceId::from_uuid(Uuid::from_u128(30)),
        kind: NamespaceKind::Shared,
        owner: home.owner,
        root: NodeId::from_uuid(Uuid::from_u128(31)),
        used: ByteCount::default(),
    };
    let holder = folder(&world, 1, home.root, "Holder");
    let mut mount = folder(&world, 2, holder.id, "Team");
    mount.mount = Some(shared.id);
    let other = folder(&world, 3, home.root, "Other");
    let mut inside = folder(&world, 4, shared.root, "Plans");
    inside.namespace = shared.id;
    let link = |n: u8, node: &Node| SharedLink {
        id: LinkId::from_uuid(Uuid::from_u128(700 + u128::from(n))),
        token_digest: coffer_domain::account::TokenDigest::from_bytes([n; 32]),
        owner: home.owner,
        namespace: node.namespace,
        node: node.id,
        password: None,
        expires_at: None,
        allow_download: true,
        created_at: at(i64::from(n)),
        revoked_at: None,
    };
    let links = [
        link(1, &mount),
        link(2, &holder),
        link(3, &other),
        link(4, &inside),
    ];
    let mut tx = world.store.begin().await.unwrap();
    tx.namespaces().insert(&shared, at(0)).await.unwrap();
    for node in [&holder, &mount, &other, &inside] {
        tx.nodes().insert(node).await.unwrap();
    }
    for link in &links {
        tx.links().insert(link).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = world.store.begin().await.unwrap();
    let into = tx.links().list_into_namespace(shared.id).await.unwrap();
    assert_eq!(
        into.iter().map(|l| l.id).collect::<Vec<_>>(),
        [links[3].id, links[1].id, links[0].id],
        "newest first; the unrelated folder's link is not among them"
    );
    assert_eq!(
        tx.links()
            .revoke_all_of_owner(home.owner, at(9))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        tx.links()
            .revoke_all_of_owner(home.owner, at(10))
            .await
            .unwrap(),
        0,
        "revoked links stay as they were"
    );
    tx.commit().await.unwrap();
    let mut tx = world.store.begin().await.unwrap();
    for link in tx.links().list_for_owner(home.owner).await.unwrap() {
        assert_eq!(link.revoked_at, Some(at(9)));
    }
}

async fn invitations_are_kept_per_folder_and_taken_by_email(world: World) {
    let shared = |n: u128| Namespace {
        id: NamespaceId::from_uuid(Uuid::from_u128(40 + n)),
        kind: NamespaceKind::Shared,
        owner: world.namespace.owner,
        root: NodeId::from_uuid(Uuid::from_u128(50 + n)),
        used: ByteCount::default(),
    };
    let (first, second) = (shared(1), shared(2));
    let invitation = |n: u128, namespace: &Namespace, email: &str| Invitation {
        id: UserId::from_uuid(Uuid::from_u128(900 + n)),
        namespace: namespace.id,
        email: Email::parse(email).unwrap(),
        role: Role::Viewer,
        invited_at: at(n as i64),
    };
    let mut tx = world.store.begin().await.unwrap();
    for namespace in [&first, &second] {
        tx.namespaces().insert(namespace, at(0)).await.unwrap();
    }
    tx.members()
        .invite(&invitation(1, &first, "new@example.org"))
        .await
        .unwrap();
    tx.members()
        .invite(&invitation(2, &second, "new@example.org"))
        .await
        .unwrap();
    tx.members()
        .invite(&invitation(3, &first, "other@example.org"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A second invitation of one email to one folder is a conflict (in a transaction of its own:
    // PostgreSQL ends a transaction at a failed statement).
    let mut tx = world.store.begin().await.unwrap();
    assert!(matches!(
        tx.members()
            .invite(&invitation(4, &first, "new@example.org"))
            .await,
        Err(RepositoryError::Conflict(_))
    ));
    drop(tx);

    let mut tx = world.store.begin().await.unwrap();
    let of_first = tx.members().invitations_of(first.id).await.unwrap();
    assert_eq!(of_first.len(), 2);
    assert_eq!(of_first[0], invitation(1, &first, "new@example.org"));
    let other = UserId::from_uuid(Uuid::from_u128(903));
    assert!(
        tx.members()
            .set_invitation_role(first.id, other, Role::Editor)
            .await
            .unwrap()
    );
    assert!(
        tx.members()
            .delete_invitation(first.id, other)
            .await
            .unwrap()
    );
    assert!(
        !tx.members()
            .delete_invitation(first.id, other)
            .await
            .unwrap()
    );
    let mut taken = tx
        .members()
        .take_invitations_for(&Email::parse("new@example.org").unwrap())
        .await
        .unwrap();
    taken.sort_by_key(|i| i.invited_at);
    assert_eq!(
        taken.iter().map(|i| i.namespace).collect::<Vec<_>>(),
        [first.id, second.id]
    );
    assert!(
        tx.members()
            .invitations_of(first.id)
            .await
            .unwrap()
            .is_empty()
    );
    tx.commit().await.unwrap();
}
