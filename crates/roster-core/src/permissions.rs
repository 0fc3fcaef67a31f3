//! Permission matching and effective permissions (spec §2). Pure functions, so every front-end
//! and the check endpoint agree on what a membership may do.
//!
//! A granted permission matches a required one when it is `*`; when both are `resource:action`
//! and each part of the grant is `*` or equal to the required part; or when they are the same
//! string (operation names such as `GetCustomerCollection`, and permissions of three or more
//! parts such as `account:account:read`, match only themselves).

use std::collections::BTreeSet;

use crate::model::{MembershipRole, MembershipSettings, MembershipStatus};

pub fn matches(granted: &str, required: &str) -> bool {
    if granted == "*" || granted == required {
        return true;
    }
    match (two_parts(granted), two_parts(required)) {
        (Some((resource, action)), Some((wanted_resource, wanted_action))) => {
            (resource == "*" || resource == wanted_resource) && (action == "*" || action == wanted_action)
        }
        _ => false,
    }
}

/// `resource:action`, or `None` for `*`, an operation name, or three or more parts.
fn two_parts(text: &str) -> Option<(&str, &str)> {
    text.split_once(':').filter(|(_, action)| !action.contains(':'))
}

/// Whether any of `granted` matches `required`.
pub fn allows<S: AsRef<str>>(granted: &[S], required: &str) -> bool {
    granted.iter().any(|g| matches(g.as_ref(), required))
}

/// What a membership grants: its direct permissions, its custom roles' permissions, `*` for an
/// ADMIN or an owner, `*:read` for a STANDARD member; nothing unless it is accepted. Sorted,
/// without duplicates.
pub fn effective(status: MembershipStatus, settings: &MembershipSettings, role_permissions: &[String]) -> Vec<String> {
    if status != MembershipStatus::Accepted {
        return Vec::new();
    }
    let mut all: BTreeSet<String> = settings.permissions.iter().chain(role_permissions).cloned().collect();
    if settings.role == MembershipRole::Admin || settings.is_owner {
        all.insert("*".to_owned());
    }
    if settings.role == MembershipRole::Standard {
        all.insert("*:read".to_owned());
    }
    all.into_iter().collect()
}

/// Whether `address` is within any of `allowed` (IPs or CIDR blocks); an empty list allows all.
/// `None` is a client whose address could not be known, which only an empty list allows. An
/// IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is compared as the IPv4 address
/// it is.
pub fn address_allowed(allowed: &[String], address: Option<std::net::IpAddr>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(address) = address.map(|ip| ip.to_canonical()) else {
        return false;
    };
    allowed.iter().any(|entry| match entry.parse::<ipnet::IpNet>() {
        Ok(network) => network.contains(&address),
        Err(_) => entry.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.to_canonical() == address),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::input::parse_permission;

    fn part() -> impl Strategy<Value = String> {
        prop_oneof![Just("*".to_owned()), "[a-z][a-z_.-]{0,8}"]
    }

    /// Any permission the grammar accepts: `*`, `resource:action`, or an operation name.
    fn permission() -> impl Strategy<Value = String> {
        prop_oneof![Just("*".to_owned()), (part(), part()).prop_map(|(r, a)| format!("{r}:{a}")), "[A-Z][A-Za-z]{0,12}",]
    }

    /// A grant at least as wide as `p`: itself, or with a part, both parts, or all replaced by `*`.
    fn widen(p: &str, how: usize) -> String {
        match (p.split_once(':'), how) {
            (_, 0) => p.to_owned(),
            (Some((_, action)), 1) => format!("*:{action}"),
            (Some((resource, _)), 2) => format!("{resource}:*"),
            (Some(_), 3) => "*:*".to_owned(),
            _ => "*".to_owned(),
        }
    }

    proptest! {
        #[test]
        fn generated_permissions_are_valid(p in permission()) {
            prop_assert!(parse_permission(&p).is_ok());
        }

        #[test]
        fn star_matches_everything(required in permission()) {
            prop_assert!(matches("*", &required));
        }

        #[test]
        fn a_permission_always_matches_itself(p in permission()) {
            prop_assert!(matches(&p, &p));
        }

        #[test]
        fn a_resource_wildcard_never_crosses_resources(a in "[a-z]{1,8}", b in "[a-z]{1,8}", action in "[a-z]{1,8}") {
            prop_assume!(a != b);
            let (granted, required) = (format!("{a}:*"), format!("{b}:{action}"));
            prop_assert!(!matches(&granted, &required));
        }

        #[test]
        fn a_grant_that_covers_a_covering_grant_covers_what_it_covers(c in permission(), i in 0..5usize, j in 0..5usize) {
            let b = widen(&c, i);
            let a = widen(&b, j);
            prop_assert!(matches(&b, &c) && matches(&a, &b));
            prop_assert!(matches(&a, &c));
        }

        #[test]
        fn operation_names_match_only_themselves_and_star(op in "[A-Z][A-Za-z]{0,12}", other in permission()) {
            prop_assume!(other != op && other != "*");
            prop_assert!(!matches(&other, &op));
        }
    }

    #[test]
    fn three_part_permissions_match_only_themselves_and_star() {
        assert!(matches("account:account:read", "account:account:read"));
        assert!(matches("*", "account:account:read"));
        for wider in ["account:*", "*:*", "*:read", "account:account:*", "account:account"] {
            assert!(!matches(wider, "account:account:read"), "{wider}");
        }
        assert!(!matches("account:account:read", "account:account"));
        assert!(!matches("account:account:read", "account:read"));
    }

    #[test]
    fn examples() {
        assert!(matches("customers:*", "customers:read"));
        assert!(matches("*:read", "invoices:read"));
        assert!(!matches("*:read", "invoices:write"));
        assert!(!matches("customers:read", "customers:*"));
        assert!(!matches("*:*", "GetCustomerCollection"));
        assert!(matches("GetCustomerCollection", "GetCustomerCollection"));
    }

    #[test]
    fn effective_permissions_follow_role_owner_and_status() {
        let mut standard = MembershipSettings::new(MembershipRole::Standard);
        standard.permissions = vec!["invoices:write".into()];
        let roles = vec!["reports:read".to_owned(), "invoices:write".to_owned()];
        assert_eq!(
            effective(MembershipStatus::Accepted, &standard, &roles),
            ["*:read", "invoices:write", "reports:read"]
        );
        let admin = MembershipSettings::new(MembershipRole::Admin);
        assert_eq!(effective(MembershipStatus::Accepted, &admin, &[]), ["*"]);
        let owner = MembershipSettings { is_owner: true, ..standard.clone() };
        assert!(effective(MembershipStatus::Accepted, &owner, &[]).contains(&"*".to_owned()));
        assert!(effective(MembershipStatus::Pending, &admin, &[]).is_empty());
        assert!(effective(MembershipStatus::Rejected, &standard, &roles).is_empty());
    }

    #[test]
    fn addresses_are_checked_against_ips_and_blocks() {
        let allowed = vec!["10.0.0.0/8".to_owned(), "192.168.1.7".to_owned(), "2001:db8::/32".to_owned()];
        let ip = |text: &str| Some(text.parse().unwrap());
        assert!(address_allowed(&allowed, ip("10.2.3.4")));
        assert!(address_allowed(&allowed, ip("192.168.1.7")));
        assert!(address_allowed(&allowed, ip("2001:db8::5")));
        assert!(!address_allowed(&allowed, ip("192.168.1.8")));
        assert!(address_allowed(&[], ip("8.8.8.8")));
        assert!(address_allowed(&allowed, ip("::ffff:10.2.3.4")), "a mapped IPv4 address is that address");
        assert!(address_allowed(&allowed, ip("::ffff:192.168.1.7")));
        assert!(!address_allowed(&allowed, None), "an unknown address is outside every fence");
        assert!(address_allowed(&[], None));
    }
}
