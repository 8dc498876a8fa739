use chrono::{DurationRound, TimeDelta, Utc};
use coffer_application::ports::{Clock, IdGenerator};
use coffer_domain::Timestamp;
use uuid::Uuid;

/// The operating system's clock, truncated to microseconds (what both databases keep).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let now = Utc::now();
        now.duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(now)
    }
}

/// UUIDv7 ids: unique, and ordered by creation time, which keeps database indexes compact.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_keeps_whole_microseconds() {
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let ids: Vec<Uuid> = (0..1000).map(|_| UuidV7Ids.new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
    }
}
