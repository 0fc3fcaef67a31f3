//! Prefixed, time-ordered identifiers (`mem_01JD…`): a ULID whose time part is the object's
//! `created_at`, so ids sort like creation times and are unguessable.

use crate::time::Timestamp;

pub const PARTNER: &str = "ptn";
pub const GROUP: &str = "grp";
pub const ORGANISATION: &str = "org";
pub const USER: &str = "usr";
pub const ROLE: &str = "rol";
pub const MEMBERSHIP: &str = "mem";
pub const API_KEY: &str = "key";
pub const EVENT: &str = "evt";
pub const WEBHOOK_ENDPOINT: &str = "we";
pub const WEBHOOK_DELIVERY: &str = "whd";
/// A `webhook-id`: one event to one endpoint, the same for each of its attempts.
pub const WEBHOOK_MESSAGE: &str = "msg";

/// Ids are at most this long on input; anything longer cannot name an object.
pub const MAX_ID_LEN: usize = 50;

pub fn new_id(prefix: &str, at: Timestamp) -> String {
    let mut random = [0u8; 16];
    crate::keys::fill_random(&mut random);
    let millis = u64::try_from(at.millis()).unwrap_or(0);
    let ulid = ulid::Ulid::from_parts(millis, u128::from_le_bytes(random));
    format!("{prefix}_{ulid}")
}

/// The smallest id `prefix` can have at `at`: every id made at `at` or later sorts at or after
/// it, every one made before sorts before it (events are pruned by this range of their key).
pub fn first_id_at(prefix: &str, at: Timestamp) -> String {
    let millis = u64::try_from(at.millis()).unwrap_or(0);
    format!("{prefix}_{}", ulid::Ulid::from_parts(millis, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_id_at_a_time_bounds_the_ids_made_before_and_after() {
        let bound = first_id_at(EVENT, Timestamp(2_000));
        assert!(new_id(EVENT, Timestamp(1_999)) < bound);
        assert!(new_id(EVENT, Timestamp(2_000)) >= bound);
        assert!(new_id(EVENT, Timestamp(2_001)) > bound);
    }

    #[test]
    fn ids_are_prefixed_short_and_ordered_by_time() {
        let early = new_id(MEMBERSHIP, Timestamp(1_000));
        let late = new_id(MEMBERSHIP, Timestamp(2_000));
        assert!(early.starts_with("mem_"));
        assert!(early.len() <= MAX_ID_LEN);
        assert!(early < late);
    }
}
