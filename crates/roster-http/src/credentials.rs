//! A short-lived, per-node memory of the API keys recently looked up, so a busy key costs one
//! database read per `ttl` instead of one per request.
//!
//! Invalidation: every successful write through this node clears the whole memory (a revoked
//! key, a deleted group or organisation is refused here at once); another node's write is seen
//! here within `ttl`. That bound is the price, documented with `--credential-cache-ttl`; a zero
//! `ttl` turns the memory off.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use roster_core::store::KeyCredential;

/// More keys than any one node serves in a second; reaching it starts the memory afresh rather
/// than growing without bound.
const CAPACITY: usize = 10_000;

pub struct CredentialCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, KeyCredential)>>,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::default() }
    }

    /// The credential stored under `secret_hash`, when it was looked up less than `ttl` ago.
    pub fn get(&self, secret_hash: &str) -> Option<KeyCredential> {
        let entries = self.entries.lock().ok()?;
        let (at, credential) = entries.get(secret_hash)?;
        (at.elapsed() < self.ttl).then(|| credential.clone())
    }

    pub fn put(&self, secret_hash: &str, credential: &KeyCredential) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(secret_hash.to_owned(), (Instant::now(), credential.clone()));
        }
    }

    /// Forgets everything: called after every successful write on this node.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use roster_core::{
        model::{ApiKey, KeyHolder, KeyType, Mode},
        time::Timestamp,
    };

    use super::*;

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
        assert_eq!(cache.get("hash"), None);
        cache.put("hash", &credential());
        assert_eq!(cache.get("hash"), Some(credential()));
        cache.clear();
        assert_eq!(cache.get("hash"), None);
    }

    #[test]
    fn it_forgets_after_the_ttl_and_remembers_nothing_with_a_zero_ttl() {
        let cache = CredentialCache::new(Duration::from_millis(1));
        cache.put("hash", &credential());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get("hash"), None);
        let off = CredentialCache::new(Duration::ZERO);
        off.put("hash", &credential());
        assert_eq!(off.get("hash"), None);
    }
}
