use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use coffer_application::ports::{Clock, LoginThrottle, ThrottleKey};
use coffer_domain::Timestamp;

/// When failed logins lock a key out, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRules {
    /// Failures per account (or per shared link's password) within `window` before it is
    /// locked.
    pub account_failures: u32,
    /// Failures per client address within `window` before it is locked.
    pub address_failures: u32,
    /// Members one account may add (or invite) within `window` before it must wait.
    pub member_additions: u32,
    /// How long failures are remembered.
    pub window: Duration,
    /// The first lockout; each further failure doubles it.
    pub lockout: Duration,
    /// The longest lockout.
    pub max_lockout: Duration,
}

impl Default for ThrottleRules {
    fn default() -> Self {
        Self {
            account_failures: 5,
            address_failures: 20,
            member_additions: 50,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(30),
            max_lockout: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Timestamp,
    locked_until: Option<Timestamp>,
}

/// Counts failures in this process's memory. With several server instances each counts its own
/// share, so the effective limit is per instance.
pub struct InMemoryLoginThrottle {
    rules: ThrottleRules,
    clock: Arc<dyn Clock>,
    keys: Mutex<HashMap<ThrottleKey, Failures>>,
}

/// Above this many tracked keys, stale ones are dropped so a spray of addresses cannot grow memory.
const PRUNE_ABOVE: usize = 100_000;

impl InMemoryLoginThrottle {
    /// A throttle with the given rules.
    pub fn new(rules: ThrottleRules, clock: Arc<dyn Clock>) -> Self {
        Self {
            rules,
            clock,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn limit(&self, key: &ThrottleKey) -> u32 {
        match key {
            ThrottleKey::Account(_) | ThrottleKey::Link(_) => self.rules.account_failures,
            ThrottleKey::ClientAddress(_) => self.rules.address_failures,
            ThrottleKey::MemberAdditions(_) => self.rules.member_additions,
        }
    }

    fn delta(d: Duration) -> TimeDelta {
        TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
    }
}

impl InMemoryLoginThrottle {
    /// Counts one attempt against `key` (the window restarts when it has passed), locking the
    /// key once the count reaches its limit; each attempt past the limit doubles the lockout.
    fn count(&self, keys: &mut HashMap<ThrottleKey, Failures>, key: &ThrottleKey, now: Timestamp) {
        let window = Self::delta(self.rules.window);
        let limit = self.limit(key);
        let entry = keys.entry(key.clone()).or_insert(Failures {
            count: 0,
            since: now,
            locked_until: None,
        });
        if entry.since + window <= now {
            *entry = Failures {
                count: 0,
                since: now,
                locked_until: None,
            };
        }
        entry.count += 1;
        if entry.count >= limit {
            let doublings = (entry.count - limit).min(20);
            let lockout = self
                .rules
                .lockout
                .saturating_mul(1 << doublings)
                .min(self.rules.max_lockout);
            entry.locked_until = Some(now + Self::delta(lockout));
        }
    }
}

#[async_trait]
impl LoginThrottle for InMemoryLoginThrottle {
    async fn attempt(&self, keys: &[ThrottleKey]) -> Result<(), Duration> {
        let now = self.clock.now();
        let window = Self::delta(self.rules.window);
        let mut tracked = self.keys.lock().expect("throttle lock poisoned");
        if tracked.len() >= PRUNE_ABOVE {
            tracked
                .retain(|_, f| f.since + window > now || f.locked_until.is_some_and(|u| u > now));
        }
        let locked_until = keys
            .iter()
            .filter_map(|key| tracked.get(key).and_then(|f| f.locked_until))
            .filter(|until| *until > now)
            .max();
        if let Some(until) = locked_until {
            return Err((until - now).to_std().unwrap_or_default());
        }
        for key in keys {
            self.count(&mut tracked, key, now);
        }
        Ok(())
    }

    async fn succeeded(&self, keys: &[ThrottleKey]) {
        let mut tracked = self.keys.lock().expect("throttle lock poisoned");
        for key in keys {
            match key {
                ThrottleKey::ClientAddress(_) => {
                    let limit = self.limit(key);
                    if let Some(entry) = tracked.get_mut(key) {
                        entry.count = entry.count.saturating_sub(1);
                        if entry.count < limit {
                            entry.locked_until = None;
                        }
                    }
                }
                ThrottleKey::Account(_) | ThrottleKey::Link(_) => {
                    tracked.remove(key);
                }
                // Every addition counts, whatever its outcome.
                ThrottleKey::MemberAdditions(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use coffer_application::testing::ManualClock;
    use coffer_domain::account::Email;

    use super::*;

    fn setup() -> (InMemoryLoginThrottle, ManualClock) {
        let clock = ManualClock::default();
        (
            InMemoryLoginThrottle::new(ThrottleRules::default(), Arc::new(clock.clone())),
            clock,
        )
    }

    fn account() -> ThrottleKey {
        ThrottleKey::Account(Email::parse("a@example.org").unwrap())
    }

    fn address() -> ThrottleKey {
        ThrottleKey::ClientAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    #[tokio::test]
    async fn locks_an_account_after_the_limit_and_doubles_the_lockout() {
        let (throttle, clock) = setup();
        let key = [account()];
        for _ in 0..5 {
            assert!(throttle.attempt(&key).await.is_ok());
        }
        assert_eq!(throttle.attempt(&key).await, Err(Duration::from_secs(30)));
        clock.advance(TimeDelta::seconds(30));
        assert!(throttle.attempt(&key).await.is_ok(), "lockout is over");
        assert_eq!(throttle.attempt(&key).await, Err(Duration::from_secs(60)));
    }

    #[tokio::test]
    async fn attempts_count_before_their_outcome_so_parallel_ones_cannot_outrun_the_limit() {
        let (throttle, _clock) = setup();
        let throttle = Arc::new(throttle);
        let keys = [account()];
        let attempts: Vec<_> = (0..20)
            .map(|_| {
                let throttle = throttle.clone();
                let keys = keys.clone();
                tokio::spawn(async move { throttle.attempt(&keys).await.is_ok() })
            })
            .collect();
        let mut admitted = 0;
        for attempt in attempts {
            admitted += u32::from(attempt.await.unwrap());
        }
        assert_eq!(admitted, 5, "only the limit's worth is ever checked");
    }

    #[tokio::test]
    async fn a_refused_key_counts_nothing_on_the_others() {
        let (throttle, _clock) = setup();
        for _ in 0..5 {
            throttle.attempt(&[account()]).await.unwrap();
        }
        assert!(throttle.attempt(&[address(), account()]).await.is_err());
        for _ in 0..19 {
            throttle.attempt(&[address()]).await.unwrap();
        }
        assert!(throttle.attempt(&[address()]).await.is_ok(), "20th");
        assert!(throttle.attempt(&[address()]).await.is_err());
    }

    #[tokio::test]
    async fn member_additions_count_whatever_their_outcome_and_have_their_own_limit() {
        let (throttle, clock) = setup();
        let adder = [ThrottleKey::MemberAdditions(
            coffer_domain::account::UserId::from_uuid(uuid::Uuid::from_u128(7)),
        )];
        for _ in 0..50 {
            throttle.attempt(&adder).await.unwrap();
            // Succeeding gives nothing back.
            throttle.succeeded(&adder).await;
        }
        assert_eq!(throttle.attempt(&adder).await, Err(Duration::from_secs(30)));
        // Other accounts' logins are not affected.
        assert!(throttle.attempt(&[account()]).await.is_ok());
        clock.advance(TimeDelta::minutes(15));
        assert!(throttle.attempt(&adder).await.is_ok(), "a new window");
    }

    #[tokio::test]
    async fn lockout_is_capped() {
        let clock = ManualClock::default();
        let rules = ThrottleRules {
            window: Duration::from_secs(24 * 3600),
            ..ThrottleRules::default()
        };
        let throttle = InMemoryLoginThrottle::new(rules, Arc::new(clock.clone()));
        let key = [account()];
        for _ in 0..40 {
            if let Err(wait) = throttle.attempt(&key).await {
                clock.advance(TimeDelta::from_std(wait).unwrap());
                throttle.attempt(&key).await.unwrap();
            }
        }
        assert_eq!(
            throttle.attempt(&key).await,
            Err(Duration::from_secs(15 * 60))
        );
    }

    #[tokio::test]
    async fn success_resets_an_account_and_gives_an_address_its_attempt_back() {
        let (throttle, _clock) = setup();
        let keys = [account(), address()];
        for _ in 0..4 {
            throttle.attempt(&keys).await.unwrap();
        }
        throttle.succeeded(&keys).await;
        // The account starts over; the address keeps the three failures.
        for _ in 0..5 {
            throttle.attempt(&[account()]).await.unwrap();
        }
        for _ in 0..100 {
            throttle.attempt(&[address()]).await.unwrap();
            throttle.succeeded(&[address()]).await;
        }
        for _ in 0..17 {
            throttle.attempt(&[address()]).await.unwrap();
        }
        assert!(
            throttle.attempt(&[address()]).await.is_err(),
            "3 + 17 = 20 attempts"
        );
    }

    #[tokio::test]
    async fn old_failures_are_forgotten() {
        let (throttle, clock) = setup();
        let key = [account()];
        for _ in 0..4 {
            throttle.attempt(&key).await.unwrap();
        }
        clock.advance(TimeDelta::minutes(15));
        for _ in 0..5 {
            assert!(throttle.attempt(&key).await.is_ok(), "the window restarted");
        }
        assert!(throttle.attempt(&key).await.is_err());
    }
}
