//! Webhooks' rules (spec §9), without IO: which events an endpoint takes, which URLs and
//! addresses it may be sent to, its signing secrets, and when a failed delivery is tried again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::{Engine, engine::general_purpose::STANDARD};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde_json::Value;

use crate::{
    ValidationCode,
    input::{Invalid, Parsed},
    time::Timestamp,
};

/// Every event type Roster writes, for `enabled_events`.
pub const EVENT_TYPES: &[&str] = &[
    "membership.created",
    "membership.updated",
    "membership.deleted",
    "membership.accepted",
    "membership.rejected",
    "membership.left",
    "user.created",
    "user.updated",
    "organisation.created",
    "organisation.updated",
    "organisation.deleted",
    "role.created",
    "role.updated",
    "role.deleted",
    "api_key.created",
    "api_key.revoked",
    "partner_group.created",
    "partner_group.updated",
    "partner_group.deleted",
    "webhook_endpoint.created",
    "webhook_endpoint.updated",
    "webhook_endpoint.deleted",
    "webhook_endpoint.disabled",
];

/// Whether an `enabled_events` entry (a type, `RESOURCE.*` or `*`) takes events of `kind`.
pub fn takes(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(resource) => kind.split_once('.').is_some_and(|(of, _)| of == resource),
        None => pattern == kind,
    }
}

/// Whether any of an endpoint's `enabled_events` takes events of `kind`.
pub fn endpoint_takes(enabled_events: &[String], kind: &str) -> bool {
    enabled_events.iter().any(|pattern| takes(pattern, kind))
}

/// One `enabled_events` entry: a type Roster writes, `RESOURCE.*` of a resource it writes them
/// for, or `*`.
pub fn enabled_event(value: &Value) -> Parsed<String> {
    let text = value.as_str().ok_or_else(|| Invalid::new(ValidationCode::InvalidType, "must be a string"))?;
    let known = text == "*"
        || EVENT_TYPES.contains(&text)
        || text.strip_suffix(".*").is_some_and(|resource| {
            EVENT_TYPES.iter().any(|kind| kind.split_once('.').is_some_and(|(of, _)| of == resource))
        });
    if !known {
        return Err(Invalid::new(
            ValidationCode::InvalidChoice,
            "must be an event type (membership.updated), every type of a resource (membership.*) or *",
        ));
    }
    Ok(text.to_owned())
}

pub const MAX_URL_LEN: usize = 2048;

/// An endpoint's URL: absolute `http` or `https` with a host, no credentials and no fragment.
/// Where it may point is decided apart, by what its host resolves to ([`address_is_public`]).
pub fn endpoint_url(value: &Value) -> Parsed<String> {
    let text = value.as_str().ok_or_else(|| Invalid::new(ValidationCode::InvalidType, "must be a string"))?;
    if text.len() > MAX_URL_LEN {
        return Err(Invalid::new(ValidationCode::MaxLength, format!("must be at most {MAX_URL_LEN} characters")));
    }
    let refused = |why: &str| Invalid::new(ValidationCode::InvalidFormat, why);
    // The parser would drop or encode them, so what is stored would not be what was sent.
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refused("must not contain spaces or control characters"));
    }
    let url = url::Url::parse(text).map_err(|_| refused("must be an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(refused("must be an absolute http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("must not hold credentials"));
    }
    if url.fragment().is_some() {
        return Err(refused("must not have a fragment"));
    }
    if url.port() == Some(0) {
        return Err(refused("must not name port 0"));
    }
    Ok(url.to_string())
}

/// The host and port an endpoint's URL reaches, for resolving it; `None` for a URL that
/// [`endpoint_url`] would refuse.
pub fn host_and_port(url: &str) -> Option<(String, u16)> {
    let url = url::Url::parse(url).ok()?;
    let host = match url.host()? {
        url::Host::Domain(domain) => domain.to_owned(),
        url::Host::Ipv4(address) => address.to_string(),
        url::Host::Ipv6(address) => address.to_string(),
    };
    Some((host, url.port_or_known_default()?))
}

/// Ranges no webhook is sent to unless the operator allows private addresses: loopback,
/// private, link-local, shared (CGNAT), documentation, benchmarking, multicast, reserved and
/// unspecified, IPv4 and IPv6.
const NOT_PUBLIC_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

const NOT_PUBLIC_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::UNSPECIFIED, 128),
    (Ipv6Addr::LOCALHOST, 128),
    (Ipv6Addr::new(0x0100, 0, 0, 0, 0, 0, 0, 0), 64),
    // Local-use NAT64 (RFC 8215): translates into whatever network it serves.
    (Ipv6Addr::new(0x0064, 0xff9b, 0x0001, 0, 0, 0, 0, 0), 48),
    (Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
];

/// Whether `address` is a public unicast address a webhook may be sent to. An IPv6 address
/// that carries an IPv4 one (mapped, compatible, NAT64, 6to4) is judged by the IPv4 one.
pub fn address_is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => !NOT_PUBLIC_V4.iter().any(|&(network, prefix)| {
            Ipv4Net::new(network, prefix).is_ok_and(|net| IpNet::V4(net).contains(&IpAddr::V4(v4)))
        }),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return address_is_public(IpAddr::V4(v4));
            }
            !NOT_PUBLIC_V6.iter().any(|&(network, prefix)| {
                Ipv6Net::new(network, prefix).is_ok_and(|net| IpNet::V6(net).contains(&IpAddr::V6(v6)))
            })
        }
    }
}

/// The IPv4 address an IPv6 one carries: `::ffff:a.b.c.d`, `::ffff:0:a.b.c.d`, `::a.b.c.d`,
/// `64:ff9b::a.b.c.d`, `2002:AABB:CCDD::`.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = v6.segments();
    let low = |high: u16, low: u16| Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
    match segments {
        [0, 0, 0, 0, 0, 0xffff, high, low_half]
        | [0, 0, 0, 0, 0xffff, 0, high, low_half]
        | [0x64, 0xff9b, 0, 0, 0, 0, high, low_half] => Some(low(high, low_half)),
        [0, 0, 0, 0, 0, 0, high, low_half] if (high, low_half) > (0, 1) => Some(low(high, low_half)),
        [0x2002, high, low_half, ..] => Some(low(high, low_half)),
        _ => None,
    }
}

/// A new signing secret: `whsec_` and the base64 of 32 random bytes (spec §9: 24–64).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    crate::keys::fill_random(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// How long an old secret keeps signing beside the new one after a rotation.
pub const ROTATION_OVERLAP_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// How long an event is tried at an endpoint before it is given up (and the endpoint disabled).
pub const RETRY_FOR_MILLIS: i64 = 3 * 24 * 60 * 60 * 1000;

/// How long one attempt may take: an answer later than this is a failure.
pub const ATTEMPT_TIMEOUT_MILLIS: i64 = 10_000;

/// How long a node holds an attempt it claimed: past it, the attempt (its node presumed dead)
/// may be claimed again. Longer than an attempt can take, and short enough that an attempt cut
/// off by a node's death is made again within 60 s.
pub const LEASE_MILLIS: i64 = 30_000;

const FIRST_RETRY_MILLIS: i64 = 15_000;
const LONGEST_WAIT_MILLIS: i64 = 6 * 60 * 60 * 1000;

/// When to try again after failed attempt number `attempt` (1 for the first), or `None` when
/// the event has been tried for [`RETRY_FOR_MILLIS`] since `first_at` and is given up. The
/// wait doubles from 15 s up to 6 h; `jitter` (0.0–1.0) takes up to half of it off, so
/// endpoints that failed together are not all tried again at once. The first retry comes
/// within 60 s.
pub fn next_attempt(attempt: u32, first_at: Timestamp, now: Timestamp, jitter: f64) -> Option<Timestamp> {
    let doubled = FIRST_RETRY_MILLIS.saturating_mul(1_i64 << attempt.saturating_sub(1).min(20));
    let wait = doubled.min(LONGEST_WAIT_MILLIS);
    let shortened = wait - (wait as f64 * jitter.clamp(0.0, 1.0) / 2.0) as i64;
    let at = Timestamp(now.millis().saturating_add(shortened));
    (now.millis() - first_at.millis() < RETRY_FOR_MILLIS).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_their_type_their_resource_or_everything() {
        assert!(takes("*", "membership.created"));
        assert!(takes("membership.*", "membership.left"));
        assert!(!takes("membership.*", "user.created"));
        assert!(!takes("member.*", "membership.created"));
        assert!(takes("role.deleted", "role.deleted"));
        assert!(!takes("role.deleted", "role.updated"));
    }

    #[test]
    fn enabled_events_are_known_types_resources_or_everything() {
        for good in ["*", "membership.*", "api_key.revoked", "webhook_endpoint.disabled"] {
            assert_eq!(enabled_event(&Value::from(good)), Ok(good.to_owned()));
        }
        for bad in ["", "membership", "membership.exploded", "nothing.*", "*.*", "membership.* "] {
            assert!(enabled_event(&Value::from(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_are_absolute_http_without_credentials() {
        assert_eq!(
            endpoint_url(&Value::from("https://hooks.example.com/in")),
            Ok("https://hooks.example.com/in".into())
        );
        for bad in
            ["ftp://example.com", "/relative", "https://user:pw@example.com/", "https://example.com/#x", "mailto:a@b"]
        {
            assert!(endpoint_url(&Value::from(bad)).is_err(), "{bad}");
        }
        assert_eq!(host_and_port("http://[::1]:8080/x"), Some(("::1".into(), 8080)));
        assert_eq!(host_and_port("https://example.com/x"), Some(("example.com".into(), 443)));
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!address_is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(address_is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn retries_double_from_within_a_minute_and_stop_after_three_days() {
        let start = Timestamp(0);
        let first = next_attempt(1, start, start, 0.0).unwrap();
        assert!(first.millis() <= 60_000);
        assert_eq!(next_attempt(2, start, start, 0.0), Some(Timestamp(30_000)));
        assert_eq!(next_attempt(2, start, start, 1.0), Some(Timestamp(15_000)));
        assert_eq!(next_attempt(30, start, start, 0.0), Some(Timestamp(LONGEST_WAIT_MILLIS)));
        assert_eq!(next_attempt(9, start, Timestamp(RETRY_FOR_MILLIS), 0.0), None);
    }
}
