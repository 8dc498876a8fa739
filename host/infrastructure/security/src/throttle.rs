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
        }
    }

    fn delta(d: Duration) -> TimeDelta {
        TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
    }
}

#[async_trait]
impl LoginThrottle for InMemoryLoginThrottle {
    async fn check(&self, key: &ThrottleKey) -> Result<(), Duration> {
        let now = self.clock.now();
        let keys = self.keys.lock().expect("throttle lock poisoned");
        match keys.get(key).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err((until - now).to_std().unwrap_or_default()),
            _ => Ok(()),
        }
    }

    async fn record_failure(&self, key: &ThrottleKey) {
        let now = self.clock.now();
        let window = Self::delta(self.rules.window);
        let limit = self.limit(key);
        let mut keys = self.keys.lock().expect("throttle lock poisoned");
        if keys.len() >= PRUNE_ABOVE {
            keys.retain(|_, f| f.since + window > now || f.locked_until.is_some_and(|u| u > now));
        }
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

    async fn record_success(&self, key: &ThrottleKey) {
        self.keys
            .lock()
            .expect("throttle lock poisoned")
            .remove(key);
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

    #[tokio::test]
    async fn locks_an_account_after_the_limit_and_doubles_the_lockout() {
        let (throttle, clock) = setup();
        let key = account();
        for _ in 0..4 {
            throttle.record_failure(&key).await;
            assert!(throttle.check(&key).await.is_ok());
        }
        throttle.record_failure(&key).await;
        assert_eq!(throttle.check(&key).await, Err(Duration::from_secs(30)));
        clock.advance(TimeDelta::seconds(30));
        assert!(throttle.check(&key).await.is_ok(), "lockout is over");
        throttle.record_failure(&key).await;
        assert_eq!(throttle.check(&key).await, Err(Duration::from_secs(60)));
    }

    #[tokio::test]
    async fn lockout_is_capped() {
        let (throttle, _clock) = setup();
        let key = account();
        for _ in 0..40 {
            throttle.record_failure(&key).await;
        }
        assert_eq!(
            throttle.check(&key).await,
            Err(Duration::from_secs(15 * 60))
        );
    }

    #[tokio::test]
    async fn addresses_get_a_higher_limit() {
        let (throttle, _clock) = setup();
        let key = ThrottleKey::ClientAddress(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for _ in 0..19 {
            throttle.record_failure(&key).await;
        }
        assert!(throttle.check(&key).await.is_ok());
        throttle.record_failure(&key).await;
        assert!(throttle.check(&key).await.is_err());
    }

    #[tokio::test]
    async fn old_failures_are_forgotten_and_success_resets() {
        let (throttle, clock) = setup();
        let key = account();
        for _ in 0..4 {
            throttle.record_failure(&key).await;
        }
        clock.advance(TimeDelta::minutes(15));
        throttle.record_failure(&key).await;
        assert!(throttle.check(&key).await.is_ok(), "the window restarted");
        for _ in 0..4 {
            throttle.record_failure(&key).await;
        }
        assert!(throttle.check(&key).await.is_err());
        throttle.record_success(&key).await;
        assert!(throttle.check(&key).await.is_ok());
    }
}
