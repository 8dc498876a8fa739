//! Change announcements for longpoll: an in-process hub, bridged between server instances by
//! PostgreSQL's `LISTEN/NOTIFY` (SQLite serves one instance, so the hub alone suffices).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_trait::async_trait;
use coffer_application::ports::{ChangeNotifier, Wakeup};
use coffer_domain::files::NamespaceId;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

/// The PostgreSQL channel carrying namespace ids that changed.
const CHANNEL: &str = "coffer_changes";

#[derive(Default)]
struct HubState {
    generations: HashMap<NamespaceId, u64>,
    waiters: HashMap<NamespaceId, HashMap<u64, Waker>>,
}

/// Wakes the waiters of a namespace in this process. A waiter that is dropped (a longpoll that
/// timed out) unregisters itself, so idle waiting costs only the waiters alive.
#[derive(Clone, Default)]
pub struct ChangeHub {
    state: Arc<Mutex<HubState>>,
    next_id: Arc<AtomicU64>,
}

impl ChangeHub {
    /// Wakes every waiter of `namespace`.
    pub fn announce(&self, namespace: NamespaceId) {
        let waiters = {
            let mut state = self.state.lock().expect("hub lock");
            *state.generations.entry(namespace).or_default() += 1;
            state.waiters.remove(&namespace).unwrap_or_default()
        };
        for waker in waiters.into_values() {
            waker.wake();
        }
    }

    /// A future that completes at the next announcement for `namespace` after this call.
    pub fn next_change(&self, namespace: NamespaceId) -> Wakeup {
        let start = {
            let state = self.state.lock().expect("hub lock");
            state.generations.get(&namespace).copied().unwrap_or(0)
        };
        Box::pin(NextChange {
            hub: self.clone(),
            namespace,
            start,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// How many waiters are registered (for tests and metrics).
    pub fn waiting(&self) -> usize {
        let state = self.state.lock().expect("hub lock");
        state.waiters.values().map(HashMap::len).sum()
    }
}

struct NextChange {
    hub: ChangeHub,
    namespace: NamespaceId,
    start: u64,
    id: u64,
}

impl Future for NextChange {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.hub.state.lock().expect("hub lock");
        if state.generations.get(&self.namespace).copied().unwrap_or(0) != self.start {
            return Poll::Ready(());
        }
        state
            .waiters
            .entry(self.namespace)
            .or_default()
            .insert(self.id, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for NextChange {
    fn drop(&mut self) {
        let mut state = self.hub.state.lock().expect("hub lock");
        if let Some(waiters) = state.waiters.get_mut(&self.namespace) {
            waiters.remove(&self.id);
            if waiters.is_empty() {
                state.waiters.remove(&self.namespace);
            }
        }
    }
}

/// The [`ChangeNotifier`] of a [`crate::SqlStore`].
#[derive(Clone)]
pub struct SqlChangeNotifier {
    hub: ChangeHub,
    postgres: Option<PgPool>,
}

impl SqlChangeNotifier {
    pub(crate) fn local() -> Self {
        Self {
            hub: ChangeHub::default(),
            postgres: None,
        }
    }

    /// Also tells and hears the other instances on this PostgreSQL (starts a listener task).
    pub(crate) fn bridged(pool: PgPool) -> Self {
        let hub = ChangeHub::default();
        tokio::spawn(listen(pool.clone(), hub.clone()));
        Self {
            hub,
            postgres: Some(pool),
        }
    }

    /// The in-process hub.
    pub fn hub(&self) -> &ChangeHub {
        &self.hub
    }
}

#[async_trait]
impl ChangeNotifier for SqlChangeNotifier {
    async fn changed(&self, namespace: NamespaceId) {
        // Waiters here need not wait for the round trip through PostgreSQL.
        self.hub.announce(namespace);
        if let Some(pool) = &self.postgres {
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(namespace.as_uuid().to_string())
                .execute(pool)
                .await;
            if let Err(err) = sent {
                tracing::warn!(error = %err, "could not announce a change to other instances");
            }
        }
    }

    fn next_change(&self, namespace: NamespaceId) -> Wakeup {
        self.hub.next_change(namespace)
    }
}

/// Relays announcements from every instance to this one's hub, reconnecting after failures.
async fn listen(pool: PgPool, hub: ChangeHub) {
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            loop {
                let notification = listener.recv().await?;
                if let Ok(id) = Uuid::try_parse(notification.payload()) {
                    hub.announce(NamespaceId::from_uuid(id));
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        if let Err(err) = listener.await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %err, "change listener lost its connection; reconnecting");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ns(n: u128) -> NamespaceId {
        NamespaceId::from_uuid(Uuid::from_u128(n))
    }

    #[tokio::test]
    async fn an_announcement_wakes_only_its_namespace() {
        let hub = ChangeHub::default();
        let mine = hub.next_change(ns(1));
        let other = hub.next_change(ns(2));
        let mine = tokio::spawn(mine);
        tokio::task::yield_now().await;
        hub.announce(ns(1));
        tokio::time::timeout(Duration::from_secs(5), mine)
            .await
            .unwrap()
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), other)
                .await
                .is_err(),
            "namespace 2 did not change"
        );
    }

    #[tokio::test]
    async fn an_announcement_between_subscribing_and_waiting_is_not_missed() {
        let hub = ChangeHub::default();
        let next = hub.next_change(ns(1));
        hub.announce(ns(1));
        tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn waiters_that_give_up_leave_nothing_behind() {
        let hub = ChangeHub::default();
        for _ in 0..1000 {
            let waiter = hub.next_change(ns(7));
            let _ = tokio::time::timeout(Duration::from_millis(1), waiter).await;
        }
        assert_eq!(hub.waiting(), 0);
    }
}
