//! Timestamps: milliseconds since the Unix epoch, stored as integers (indexable, the same on
//! every backend) and rendered as RFC 3339 UTC with milliseconds (`2018-01-01T12:00:00.000Z`).

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Self(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 with any offset; precision below a millisecond is dropped.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok().map(Self)
    }

    pub fn to_rfc3339(self) -> String {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|at| at.format(&format).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
    }
}

/// Where "now" comes from. Everything that decides by the time (key expiry, `created_at`, the
/// JWT `iat` check) asks a clock, so tests set the time instead of waiting for it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(at: Timestamp) -> Self {
        Self(AtomicI64::new(at.millis()))
    }

    pub fn set(&self, at: Timestamp) {
        self.0.store(at.millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.0.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// The machine's clock, moved forward on demand: for tests that need time to pass (a later
/// `updated_at`, an expired key) while everything else keeps its natural order.
#[derive(Debug, Default)]
pub struct AdvanceableClock(AtomicI64);

impl AdvanceableClock {
    pub fn advance(&self, by: std::time::Duration) {
        self.0.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for AdvanceableClock {
    fn now(&self) -> Timestamp {
        Timestamp(Timestamp::now().millis().saturating_add(self.0.load(Ordering::SeqCst)))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_utc_with_milliseconds() {
        assert_eq!(Timestamp(1_514_808_000_000).to_rfc3339(), "2018-01-01T12:00:00.000Z");
        assert_eq!(Timestamp(1_514_808_000_123).to_rfc3339(), "2018-01-01T12:00:00.123Z");
    }

    #[test]
    fn parses_offsets_to_utc() {
        assert_eq!(Timestamp::parse_rfc3339("2018-01-01T13:00:00.5+01:00"), Some(Timestamp(1_514_808_000_500)));
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }
}
