//! The list's query (spec §7 cloudflare): `status` (default pending and accepted), `page` (≥ 1),
//! `per_page` (5–50, default 20), `order` (`id`, `account.name`, `status`) with `direction`
//! (`asc` default), and `name` / `account.name` (an account's exact name). Numbers may be
//! written as the client's floats write them (`5.0`). Unknown parameters are ignored, whatever
//! their bytes; a parameter sent twice takes its last value.

use roster_core::{
    Error, FieldError, ValidationCode,
    input::text,
    model::MembershipStatus,
    page::{ListQuery, Position, Sort, SortKey},
    store::MembershipFilter,
};
use serde_json::{Map, Value};

use crate::extract::decode_component;

const DEFAULT_PER_PAGE: u64 = 20;
/// An organisation's name is at most this long (as `/v1/organisations` takes it).
const MAX_ACCOUNT_NAME: usize = 200;
const PER_PAGE: std::ops::RangeInclusive<u64> = 5..=50;

/// The filter and page the query asks for, and the page number.
pub struct ListRequest {
    pub filter: MembershipFilter,
    pub query: ListQuery,
    pub page: u64,
}

const KNOWN: [&str; 7] = ["status", "page", "per_page", "order", "direction", "name", "account.name"];

/// The query string's known parameters, decoded as a form (a value that is not UTF-8 is an
/// invalid value of its parameter); everything else is left unread.
pub fn parse(query: Option<&str>) -> Result<ListRequest, Error> {
    let mut params = Map::new();
    let mut errors = Vec::new();
    for pair in query.unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(name) = decode_component(name).filter(|name| KNOWN.contains(&name.as_str())) else { continue };
        match decode_component(value) {
            Some(value) => {
                params.insert(name, Value::String(value));
            }
            None => errors.push(FieldError::new(name.as_str(), ValidationCode::InvalidFormat, "must be valid UTF-8")),
        }
    }
    Error::unless_invalid(errors)?;
    parse_params(&params)
}

fn parse_params(params: &Map<String, Value>) -> Result<ListRequest, Error> {
    let mut errors = Vec::new();
    let param = |name: &str| params.get(name).and_then(Value::as_str);
    let mut refuse =
        |name: &str, message: &str| errors.push(FieldError::new(name, ValidationCode::InvalidFormat, message));

    let statuses = match param("status") {
        None => vec![MembershipStatus::Pending, MembershipStatus::Accepted],
        Some(text) => match MembershipStatus::parse(text) {
            Some(status) => vec![status],
            None => {
                refuse("status", "must be one of: pending, accepted, rejected");
                Vec::new()
            }
        },
    };
    let page = match param("page").map(whole_number) {
        None => 1,
        Some(Some(page)) if page >= 1 => page,
        Some(_) => {
            refuse("page", "must be an integer of 1 or more");
            1
        }
    };
    let per_page = match param("per_page").map(whole_number) {
        None => DEFAULT_PER_PAGE,
        Some(Some(per_page)) if PER_PAGE.contains(&per_page) => per_page,
        Some(_) => {
            refuse("per_page", "must be an integer from 5 to 50");
            DEFAULT_PER_PAGE
        }
    };
    let descending = match param("direction") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            refuse("direction", "must be one of: asc, desc");
            false
        }
    };
    let sort = match param("order") {
        None => Vec::new(),
        Some(order) => {
            let key = match order {
                "id" => Some(SortKey::Id),
                "account.name" => Some(SortKey::OrganisationName),
                "status" => Some(SortKey::Status),
                _ => {
                    refuse("order", "must be one of: id, account.name, status");
                    None
                }
            };
            // Ties break by id, in the same direction.
            key.map(|key| vec![Sort { key, descending }, Sort { key: SortKey::Id, descending }]).unwrap_or_default()
        }
    };
    let mut names = Vec::new();
    for name in ["name", "account.name"] {
        if let Some(value) = params.get(name) {
            match text(1, MAX_ACCOUNT_NAME)(value) {
                Ok(text) => names.push(text),
                Err(invalid) => errors.push(FieldError::new(name, invalid.code, invalid.message)),
            }
        }
    }
    Error::unless_invalid(errors)?;
    names.dedup();
    let filter = match names.as_slice() {
        [] => MembershipFilter { statuses: Some(statuses), ..MembershipFilter::default() },
        [name] => MembershipFilter {
            statuses: Some(statuses),
            organisation_name: Some(name.clone()),
            ..MembershipFilter::default()
        },
        // Two different names: no account has both.
        _ => MembershipFilter { organisation_ids: Some(Vec::new()), ..MembershipFilter::default() },
    };
    let limit = u32::try_from(per_page).unwrap_or(20);
    let offset = (page - 1).saturating_mul(per_page).min(i64::MAX.unsigned_abs());
    Ok(ListRequest { filter, query: ListQuery { limit, position: Position::Offset(offset), sort }, page })
}

/// `5`, or `5.0` as a float-typed client writes it; nothing else (no sign, no exponent). A
/// number too large to hold is the largest held: a page past any end.
fn whole_number(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && digits(fraction) && fraction.bytes().all(|b| b == b'0'))
        .then(|| whole.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parsed(query: Value) -> Result<ListRequest, Error> {
        parse_params(query.as_object().unwrap())
    }

    fn refused(query: Value) -> Vec<String> {
        match parsed(query) {
            Err(Error::Validation(errors)) => errors.iter().map(|e| crate::problem::native_name(&e.field)).collect(),
            other => panic!("{:?}", other.map(|request| request.page)),
        }
    }

    #[test]
    fn defaults_are_pending_and_accepted_newest_first_twenty_a_page() {
        let request = parsed(json!({"unknown": "x"})).unwrap();
        assert_eq!(request.filter.statuses, Some(vec![MembershipStatus::Pending, MembershipStatus::Accepted]));
        assert_eq!(
            (request.query.limit, request.query.position, request.query.sort, request.page),
            (20, Position::Offset(0), Vec::new(), 1)
        );
    }

    #[test]
    fn pages_and_orders_read_as_the_client_writes_them() {
        let request = parsed(
            json!({"page": "3.0", "per_page": "5", "order": "account.name", "direction": "desc", "name": "Acme"}),
        )
        .unwrap();
        assert_eq!((request.page, request.query.limit, request.query.position), (3, 5, Position::Offset(10)));
        assert_eq!(request.query.sort[0], Sort { key: SortKey::OrganisationName, descending: true });
        assert_eq!(request.filter.organisation_name.as_deref(), Some("Acme"));
        let both = parsed(json!({"name": "A", "account.name": "B"})).unwrap();
        assert_eq!(both.filter.organisation_ids, Some(Vec::new()), "no account has two names");
    }

    #[test]
    fn every_bad_parameter_is_named() {
        assert_eq!(refused(json!({"page": "0", "per_page": "51"})), ["page", "per_page"]);
        assert_eq!(refused(json!({"page": "1.5", "per_page": "4"})), ["page", "per_page"]);
        assert_eq!(refused(json!({"page": "-1", "per_page": "1e1"})), ["page", "per_page"]);
        assert_eq!(
            refused(json!({"status": "active", "order": "name", "direction": "up"})),
            ["status", "direction", "order"]
        );
        assert_eq!(refused(json!({"name": "a\u{0}b"})), ["name"]);
    }

    #[test]
    fn unknown_parameters_are_ignored_whatever_their_bytes_and_huge_pages_are_past_the_end() {
        let request = parse(Some("foo=%FF&%FF=1&utm=%E2%82&page=99999999999999999999&per_page=5")).unwrap();
        assert_eq!((request.page, request.query.position), (u64::MAX, Position::Offset(i64::MAX.unsigned_abs())));
        match parse(Some("name=%FF")) {
            Err(Error::Validation(errors)) => assert_eq!(crate::problem::native_name(&errors[0].field), "name"),
            other => panic!("{:?}", other.map(|request| request.page)),
        }
    }
}
