//! The list's query string (spec §7 rebilly): `limit` 0–1000 (default 100), `offset`,
//! `filter` (`field:v1,v2;field2:v`) and `sort` (`-createdTime,userId`). Every invalid
//! parameter is reported at once, named; other parameters are ignored, as Rebilly does.

use std::collections::BTreeMap;

use roster_core::{
    Error, FieldError, ValidationCode,
    input::is_id,
    page::{ListQuery, MAX_LIMIT, Position, Sort, SortKey},
    store::MembershipFilter,
};

use crate::extract::decode_component;

const DEFAULT_LIMIT: u32 = 100;

/// The filter and page a list's query string asks for.
pub fn parse(query: Option<&str>) -> Result<(MembershipFilter, ListQuery), Error> {
    let mut errors = Vec::new();
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(name) = decode_component(name) else {
            errors.push(invalid("query", ValidationCode::InvalidFormat, "must be valid UTF-8"));
            continue;
        };
        match decode_component(value) {
            Some(value) => params.entry(name).or_default().push(value),
            None => errors.push(invalid(&name, ValidationCode::InvalidFormat, "must be valid UTF-8")),
        }
    }
    let mut single = |name: &str| match params.remove(name).as_deref() {
        None | Some([]) => None,
        Some([value]) => Some(value.clone()),
        Some(_) => {
            errors.push(invalid(name, ValidationCode::InvalidFormat, "may be sent once"));
            None
        }
    };
    let (limit, offset, filter, sort) = (single("limit"), single("offset"), single("filter"), single("sort"));
    let limit = match limit.as_deref().map(digits) {
        None => DEFAULT_LIMIT,
        Some(Some(limit)) if limit <= u64::from(MAX_LIMIT) => u32::try_from(limit).unwrap_or(DEFAULT_LIMIT),
        Some(_) => {
            errors.push(invalid("limit", ValidationCode::OutOfRange, "must be an integer from 0 to 1000"));
            DEFAULT_LIMIT
        }
    };
    let offset = match offset.as_deref().map(digits) {
        None => 0,
        Some(Some(offset)) if i64::try_from(offset).is_ok() => offset,
        Some(_) => {
            errors.push(invalid("offset", ValidationCode::OutOfRange, "must be an integer of 0 or more"));
            0
        }
    };
    let filter = parse_filter(filter.as_deref().unwrap_or("")).unwrap_or_else(|error| {
        errors.push(error);
        MembershipFilter::default()
    });
    let sort = parse_sort(sort.as_deref().unwrap_or("")).unwrap_or_else(|error| {
        errors.push(error);
        Vec::new()
    });
    Error::unless_invalid(errors)?;
    Ok((filter, ListQuery { limit, position: Position::Offset(offset), sort }))
}

/// A number written in ASCII digits only (no sign, no spaces).
fn digits(text: &str) -> Option<u64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn invalid(name: &str, code: ValidationCode, message: impl Into<String>) -> FieldError {
    FieldError::new(name, code, message)
}

/// `field:v1,v2;field2:v` over `organizationId`, `userId`, `isOwner` and `isDefault`. An id that
/// could not be one (too long, a NUL, a space) names nothing, like an id outside the scope.
fn parse_filter(text: &str) -> Result<MembershipFilter, FieldError> {
    let refuse = |message: String| invalid("filter", ValidationCode::InvalidFormat, message);
    let mut filter = MembershipFilter::default();
    for part in text.split(';').filter(|part| !part.trim().is_empty()) {
        let (field, values) = part.split_once(':').ok_or_else(|| refuse(format!("`{part}` has no `:`")))?;
        let values: Vec<&str> = values.split(',').map(str::trim).collect();
        let twice = || refuse(format!("names `{field}` twice"));
        match field.trim() {
            "organizationId" => {
                let ids = values.iter().filter(|id| is_id(id)).map(|id| (*id).to_owned()).collect();
                filter.organisation_ids.replace(ids).map_or(Ok(()), |_| Err(twice()))?;
            }
            "userId" => {
                let ids = values.iter().filter(|id| is_id(id)).map(|id| (*id).to_owned()).collect();
                filter.user_ids.replace(ids).map_or(Ok(()), |_| Err(twice()))?;
            }
            "isOwner" => {
                let flag = flag(field, &values).map_err(refuse)?;
                if std::mem::replace(&mut filter.is_owner, flag).is_some() {
                    return Err(twice());
                }
            }
            "isDefault" => {
                let flag = flag(field, &values).map_err(refuse)?;
                if std::mem::replace(&mut filter.is_default, flag).is_some() {
                    return Err(twice());
                }
            }
            other => {
                return Err(refuse(format!(
                    "`{other}` is not a field to filter by (organizationId, userId, isOwner, isDefault)"
                )));
            }
        }
    }
    Ok(filter)
}

/// `true`, `false`, or both (which filters nothing).
fn flag(field: &str, values: &[&str]) -> Result<Option<bool>, String> {
    let mut seen = (false, false);
    for value in values {
        match *value {
            "true" => seen.0 = true,
            "false" => seen.1 = true,
            other => return Err(format!("`{field}` is true or false, not `{other}`")),
        }
    }
    Ok(match seen {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    })
}

/// A comma list of `createdTime`, `updatedTime`, `organizationId`, `userId`, each `-` for
/// descending; empty is newest first.
fn parse_sort(text: &str) -> Result<Vec<Sort>, FieldError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|item| {
            let (descending, name) = match item.trim().strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, item.trim()),
            };
            let key = match name {
                "createdTime" => SortKey::Created,
                "updatedTime" => SortKey::Updated,
                "organizationId" => SortKey::Organisation,
                "userId" => SortKey::User,
                other => {
                    return Err(invalid(
                        "sort",
                        ValidationCode::InvalidChoice,
                        format!("`{other}` is not a sort field (createdTime, updatedTime, organizationId, userId)"),
                    ));
                }
            };
            Ok(Sort { key, descending })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(query: &str) -> Vec<String> {
        match parse(Some(query)) {
            Err(Error::Validation(errors)) => errors.iter().map(|e| crate::problem::native_name(&e.field)).collect(),
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_newest_hundred() {
        let (filter, query) = parse(None).unwrap();
        assert_eq!(filter, MembershipFilter::default());
        assert_eq!((query.limit, query.position, query.sort), (100, Position::Offset(0), Vec::new()));
    }

    #[test]
    fn filters_and_sorts_read_as_the_client_writes_them() {
        let (filter, query) = parse(Some(
            "filter=organizationId:org_a,org_b%3BisOwner:true;userId:usr_1&sort=-updatedTime,userId&limit=0&offset=7",
        ))
        .unwrap();
        assert_eq!(filter.organisation_ids, Some(vec!["org_a".to_owned(), "org_b".to_owned()]));
        assert_eq!(filter.user_ids, Some(vec!["usr_1".to_owned()]));
        assert_eq!((filter.is_owner, filter.is_default), (Some(true), None));
        assert_eq!(
            query.sort,
            [Sort { key: SortKey::Updated, descending: true }, Sort { key: SortKey::User, descending: false }]
        );
        assert_eq!((query.limit, query.position), (0, Position::Offset(7)));
    }

    #[test]
    fn an_id_that_cannot_be_one_matches_nothing() {
        let (filter, _) = parse(Some("filter=userId:a%00b,x y")).unwrap();
        assert_eq!(filter.user_ids, Some(Vec::new()));
    }

    #[test]
    fn every_bad_parameter_is_named() {
        assert_eq!(fields("limit=1001&offset=-1"), ["limit", "offset"]);
        assert_eq!(fields("limit=ten"), ["limit"]);
        assert_eq!(fields("limit=%2B5&offset=+1"), ["limit", "offset"]);
        assert_eq!(fields("filter=isOwner"), ["filter"]);
        assert_eq!(fields("filter=isOwner:yes"), ["filter"]);
        assert_eq!(fields("filter=email:a@b.c"), ["filter"]);
        assert_eq!(fields("sort=name"), ["sort"]);
        assert_eq!(fields("sort=userId&sort=createdTime"), ["sort"]);
        assert_eq!(fields("filter=userId:a&filter=userId:b"), ["filter"]);
        assert_eq!(fields("offset=%FF"), ["offset"]);
    }
}
