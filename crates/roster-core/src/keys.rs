//! Secrets: `sk_live_…`, `sk_test_…`, `pk_live_…`, `pk_test_…`, and user tokens `ut_live_…`,
//! `ut_test_…`. Each is a kind, a mode, 32
//! random base62 characters (190 bits) and a 6-character base62 CRC32 of everything before it,
//! so a mistyped secret is refused without a database lookup and a scanner can recognise one.
//! Only the SHA-256 of a secret is stored: with this much entropy a slow hash adds nothing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::{KeyType, Mode};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// How much of a secret is kept in clear as its `prefix`: the kind, the mode and four random
/// characters, enough to tell keys apart and far too little to guess the rest.
const DISPLAY_PREFIX_RANDOM: usize = 4;

/// Fills `buffer` from the operating system's random source.
pub fn fill_random(buffer: &mut [u8]) {
    // The OS random source does not fail on the platforms Roster supports; if it ever did,
    // zeroes would make every key guessable, so stop rather than continue.
    if let Err(error) = getrandom::fill(buffer) {
        panic!("the operating system's random source failed: {error}");
    }
}

fn kind_prefix(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Secret => "sk",
        KeyType::Publishable => "pk",
        KeyType::UserToken => "ut",
    }
}

fn base62_checksum(body: &str) -> String {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// A new secret of the given kind and mode.
pub fn generate(key_type: KeyType, mode: Mode) -> String {
    let mut body = format!("{}_{}_", kind_prefix(key_type), mode.as_str());
    let mut produced = 0;
    while produced < RANDOM_LEN {
        let mut bytes = [0u8; 64];
        fill_random(&mut bytes);
        // Rejection sampling keeps every character equally likely.
        for byte in bytes.into_iter().filter(|b| *b < 248) {
            if produced == RANDOM_LEN {
                break;
            }
            body.push(char::from(BASE62[usize::from(byte % 62)]));
            produced += 1;
        }
    }
    let checksum = base62_checksum(&body);
    body + &checksum
}

/// What a well-formed secret says about itself, learnt without any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretShape {
    pub key_type: KeyType,
    pub mode: Mode,
}

/// Checks the shape and checksum of a presented secret.
pub fn parse(secret: &str) -> Option<SecretShape> {
    let (key_type, rest) = if let Some(rest) = secret.strip_prefix("sk_") {
        (KeyType::Secret, rest)
    } else if let Some(rest) = secret.strip_prefix("pk_") {
        (KeyType::Publishable, rest)
    } else if let Some(rest) = secret.strip_prefix("ut_") {
        (KeyType::UserToken, rest)
    } else {
        return None;
    };
    let (mode, tail) = if let Some(tail) = rest.strip_prefix("live_") {
        (Mode::Live, tail)
    } else if let Some(tail) = rest.strip_prefix("test_") {
        (Mode::Test, tail)
    } else {
        return None;
    };
    if tail.len() != RANDOM_LEN + CHECKSUM_LEN || !tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (body, checksum) = secret.split_at(secret.len() - CHECKSUM_LEN);
    let expected = base62_checksum(body);
    bool::from(expected.as_bytes().ct_eq(checksum.as_bytes())).then_some(SecretShape { key_type, mode })
}

/// The stored form of a secret: lowercase hex SHA-256.
pub fn hash(secret: &str) -> String {
    // Every authenticated request hashes its secret: hex by table, not one format! per byte.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(secret.as_bytes());
    let mut text = String::with_capacity(digest.len() * 2);
    for byte in digest {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

/// Compares two stored hashes without leaking, through timing, how much of them matched.
pub fn hashes_match(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The part of a secret shown again after creation, e.g. `sk_live_Ab3x`.
pub fn display_prefix(secret: &str) -> String {
    let kind_and_mode = "sk_live_".len();
    secret.chars().take(kind_and_mode + DISPLAY_PREFIX_RANDOM).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_back_with_their_kind_and_mode() {
        for key_type in [KeyType::Secret, KeyType::Publishable, KeyType::UserToken] {
            for mode in [Mode::Live, Mode::Test] {
                let secret = generate(key_type, mode);
                assert_eq!(parse(&secret), Some(SecretShape { key_type, mode }), "{secret}");
            }
        }
        assert!(generate(KeyType::Secret, Mode::Live).starts_with("sk_live_"));
        assert!(generate(KeyType::Publishable, Mode::Test).starts_with("pk_test_"));
    }

    #[test]
    fn a_single_changed_character_is_refused_by_the_checksum() {
        let secret = generate(KeyType::Secret, Mode::Live);
        let mut chars: Vec<char> = secret.chars().collect();
        chars[12] = if chars[12] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(parse(&typo), None);
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in ["", "sk_live_", "xx_live_abc", "sk_prod_0000000000000000000000000000000000000", "sk_live_!!"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn secrets_are_unique_and_hashed() {
        let a = generate(KeyType::Secret, Mode::Live);
        let b = generate(KeyType::Secret, Mode::Live);
        assert_ne!(a, b);
        assert_eq!(hash(&a).len(), 64);
        assert!(hashes_match(&hash(&a), &hash(&a)));
        assert!(!hashes_match(&hash(&a), &hash(&b)));
        assert_eq!(display_prefix(&a).len(), 12);
    }

    #[test]
    fn the_hash_is_sha256_in_lowercase_hex_as_stored_hashes_are() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hash("abc"), abc);
    }
}
