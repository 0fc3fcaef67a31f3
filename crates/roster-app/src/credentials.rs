//! A short-lived, per-node memory of the API keys recently looked up, so a busy key costs one
//! database read per `ttl` instead of one per request.
//!
//! Invalidation: every write through this node that may revoke or remove a key or change what
//! a remembered key says (`may_change_credentials` in the crate root) clears the whole memory
//! (a revoked key, a deleted group or organisation is refused here at once); another node's
//! write is seen here within `ttl`. That bound is the price, documented with `--credential-cache-ttl`; a zero
//! `ttl` turns the memory off.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use roster_core::{store::KeyCredential, time::Timestamp};

/// More keys than any one node serves in a second; reaching it starts the memory afresh rather
/// than growing without bound.
const CAPACITY: usize = 10_000;

pub struct CredentialCache {
    ttl_millis: i64,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Bumped by every clear, so a lookup that began before a write cannot store what it read
    /// after the write has cleared the memory.
    generation: u64,
    keys: HashMap<String, (Timestamp, KeyCredential)>,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl_millis: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX), entries: Mutex::default() }
    }

    /// The credential stored under `secret_hash` when it was looked up less than `ttl` before
    /// `now`; otherwise the generation to hand to [`Self::put`] with what the database says.
    pub fn get(&self, secret_hash: &str, now: Timestamp) -> Result<KeyCredential, u64> {
        // A generation never reaches u64::MAX (see clear), so a poisoned memory is never written.
        let Ok(entries) = self.entries.lock() else { return Err(u64::MAX) };
        match entries.keys.get(secret_hash) {
            Some((at, credential)) if now.millis().saturating_sub(at.millis()) < self.ttl_millis => {
                Ok(credential.clone())
            }
            _ => Err(entries.generation),
        }
    }

    /// Remembers a credential looked up at `now`, since [`Self::get`] returned `generation`,
    /// unless a write has cleared the memory in between.
    pub fn put(&self, secret_hash: &str, credential: &KeyCredential, generation: u64, now: Timestamp) {
        if self.ttl_millis == 0 {
            return;
        }
        if let Ok(mut entries) = self.entries.lock()
            && entries.generation == generation
        {
            if entries.keys.len() >= CAPACITY {
                entries.keys.clear();
            }
            entries.keys.insert(secret_hash.to_owned(), (now, credential.clone()));
        }
    }

    /// Forgets everything: called after every write on this node.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.keys.clear();
            entries.generation = entries.generation.wrapping_add(1) % u64::MAX;
        }
    }
}

#[cfg(test)]
mod tests {
    use roster_core::model::{ApiKey, KeyHolder, KeyType, Mode};

    use super::*;

    const NOW: Timestamp = Timestamp(1_000_000);

    fn credential() -> KeyCredential {
        KeyCredential {
            key: ApiKey {
                id: "key_1".into(),
                partner_id: "ptn_1".into(),
                mode: Mode::Live,
                name: "k".into(),
                key_type: KeyType::Secret,
                holder: KeyHolder::Group("grp_1".into()),
                abilities: vec![],
                expires_at: None,
                last_used_at: None,
                revoked_at: None,
                prefix: "sk_live_abc".into(),
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
            },
            secret_hash: "hash".into(),
            group_is_admin: true,
        }
    }

    #[test]
    fn it_remembers_within_the_ttl_and_forgets_when_cleared() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        let generation = cache.get("hash", NOW).unwrap_err();
        cache.put("hash", &credential(), generation, NOW);
        assert_eq!(cache.get("hash", NOW), Ok(credential()));
        cache.clear();
        assert!(cache.get("hash", NOW).is_err());
    }

    #[test]
    fn a_lookup_that_began_before_a_write_is_not_remembered_after_it() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        let before_the_write = cache.get("hash", NOW).unwrap_err();
        cache.clear();
        cache.put("hash", &credential(), before_the_write, NOW);
        assert!(cache.get("hash", NOW).is_err(), "what was read before the write may be stale");
    }

    #[test]
    fn it_forgets_after_the_ttl_and_remembers_nothing_with_a_zero_ttl() {
        let cache = CredentialCache::new(Duration::from_millis(1000));
        cache.put("hash", &credential(), cache.get("hash", NOW).unwrap_err(), NOW);
        assert!(cache.get("hash", Timestamp(NOW.millis() + 999)).is_ok());
        assert!(cache.get("hash", Timestamp(NOW.millis() + 1000)).is_err());
        let off = CredentialCache::new(Duration::ZERO);
        off.put("hash", &credential(), off.get("hash", NOW).unwrap_err(), NOW);
        assert!(off.get("hash", NOW).is_err());
    }
}
