//! The query string (spec §7 commercelayer): `page[number]`, `page[size]` (1–25, default 10),
//! `sort`, `include`, sparse fieldsets `fields[TYPE]`, and filters in Commerce Layer's syntax
//! `filter[q][PREDICATE]` (`status_eq`, `status_in`, `organization_id_eq`,
//! `organization_id_in`, `user_email_eq`) with the aliases `filter[status]`,
//! `filter[organization_id]`, `filter[user_email]`. Brackets arrive literal or percent-encoded
//! (the official client encodes them). Any parameter this API does not serve is a 400 naming it,
//! as JSON:API asks; every bad parameter is reported at once.

use std::collections::BTreeMap;

use roster_core::{
    FieldError, ValidationCode,
    input::{MAX_EMAIL_LEN, is_id},
    page::{ListQuery, Position, Sort, SortKey},
    store::MembershipFilter,
};

use super::{errors::Failure, wire};
use crate::extract::decode_component;

const DEFAULT_SIZE: u32 = 10;
const MAX_SIZE: u32 = 25;

/// Which relationships a document includes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Include {
    pub organization: bool,
    pub role: bool,
}

impl Include {
    pub fn any(self) -> bool {
        self.organization || self.role
    }
}

/// Sparse fieldsets: the members each resource type shows, when the request names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fieldsets(BTreeMap<String, Vec<String>>);

impl Fieldsets {
    /// Whether a resource of `kind` shows member `name`.
    pub fn shows(&self, kind: &str, name: &str) -> bool {
        self.0.get(kind).is_none_or(|names| names.iter().any(|shown| shown == name))
    }
}

/// What a document about one or more memberships shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    pub include: Include,
    pub fields: Fieldsets,
}

/// A list's page, order, filter and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub filter: MembershipFilter,
    pub query: ListQuery,
    pub number: u64,
    pub shape: Shape,
}

struct Params {
    values: BTreeMap<String, String>,
    errors: Vec<FieldError>,
}

fn invalid(name: &str, code: ValidationCode, message: impl Into<String>) -> FieldError {
    FieldError::new(name, code, message)
}

impl Params {
    fn read(query: Option<&str>) -> Self {
        let mut params = Self { values: BTreeMap::new(), errors: Vec::new() };
        for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(name) = decode_component(name) else {
                params.errors.push(invalid("query", ValidationCode::InvalidFormat, "must be valid UTF-8"));
                continue;
            };
            match decode_component(value) {
                None => params.errors.push(invalid(&name, ValidationCode::InvalidFormat, "must be valid UTF-8")),
                Some(value) if value.contains('\0') => {
                    params.errors.push(invalid(
                        &name,
                        ValidationCode::InvalidFormat,
                        "must not contain NUL characters",
                    ));
                }
                Some(_) if params.values.contains_key(&name) => {
                    params.errors.push(invalid(&name, ValidationCode::InvalidFormat, "may be sent once"));
                }
                Some(value) => {
                    params.values.insert(name, value);
                }
            }
        }
        params
    }

    fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    fn reject(&mut self, name: &str, code: ValidationCode, message: impl Into<String>) {
        self.errors.push(invalid(name, code, message));
    }

    /// `include` and `fields[TYPE]`.
    fn shape(&mut self) -> Shape {
        let mut shape = Shape { include: Include::default(), fields: self.fields() };
        if let Some(include) = self.take("include") {
            for name in include.split(',').map(str::trim).filter(|name| !name.is_empty()) {
                match name {
                    "organization" => shape.include.organization = true,
                    "role" => shape.include.role = true,
                    other => self.reject(
                        "include",
                        ValidationCode::InvalidChoice,
                        format!("`{other}` cannot be included (organization, role)"),
                    ),
                }
            }
        }
        shape
    }

    /// `fields[TYPE]`.
    fn fields(&mut self) -> Fieldsets {
        let mut fields = Fieldsets::default();
        let fieldsets: Vec<String> = self.values.keys().filter(|name| name.starts_with("fields[")).cloned().collect();
        for name in fieldsets {
            let value = self.take(&name).unwrap_or_default();
            let kind = name.strip_prefix("fields[").and_then(|rest| rest.strip_suffix(']')).unwrap_or_default();
            let Some(known) = wire::members_of(kind) else {
                self.reject(
                    &name,
                    ValidationCode::InvalidChoice,
                    "names no resource type (memberships, organizations, roles)",
                );
                continue;
            };
            let names: Vec<String> =
                value.split(',').map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned).collect();
            if let Some(unknown) = names.iter().find(|name| !known.contains(&name.as_str())) {
                let message = format!("`{unknown}` is not a member of {kind}");
                self.reject(&name, ValidationCode::InvalidChoice, message);
                continue;
            }
            fields.0.insert(kind.to_owned(), names);
        }
        fields
    }

    /// `page[number]` (from 1) and `page[size]` (1–25, default 10), as an offset page.
    fn page(&mut self) -> (ListQuery, u64) {
        let number = match self.take("page[number]").map(|text| digits(&text)) {
            None => 1,
            Some(Some(number)) if number >= 1 => number,
            Some(_) => {
                self.reject("page[number]", ValidationCode::OutOfRange, "must be an integer of 1 or more");
                1
            }
        };
        let size = match self.take("page[size]").map(|text| digits(&text)) {
            None => DEFAULT_SIZE,
            Some(Some(size)) if (1..=u64::from(MAX_SIZE)).contains(&size) => {
                u32::try_from(size).unwrap_or(DEFAULT_SIZE)
            }
            Some(_) => {
                self.reject(
                    "page[size]",
                    ValidationCode::OutOfRange,
                    format!("must be an integer from 1 to {MAX_SIZE}"),
                );
                DEFAULT_SIZE
            }
        };
        let offset = (number - 1).checked_mul(u64::from(size)).filter(|offset| i64::try_from(*offset).is_ok());
        if offset.is_none() {
            self.reject("page[number]", ValidationCode::OutOfRange, "is past any page there can be");
        }
        (ListQuery { limit: size, position: Position::Offset(offset.unwrap_or(0)), sort: Vec::new() }, number)
    }

    /// Any parameter left is one this API does not serve.
    fn finish(mut self) -> Result<(), Failure> {
        for name in std::mem::take(&mut self.values).into_keys() {
            self.reject(&name, ValidationCode::UnknownField, "is not a parameter this endpoint serves");
        }
        if self.errors.is_empty() { Ok(()) } else { Err(Failure::Query(self.errors)) }
    }
}

/// The shape of a document about one membership: `include` and `fields[TYPE]` only.
pub fn parse_shape(query: Option<&str>) -> Result<Shape, Failure> {
    let mut params = Params::read(query);
    let shape = params.shape();
    params.finish()?;
    Ok(shape)
}

/// The shape of a related resource: `fields[TYPE]` only.
pub fn parse_fields(query: Option<&str>) -> Result<Shape, Failure> {
    let mut params = Params::read(query);
    let fields = params.fields();
    params.finish()?;
    Ok(Shape { include: Include::default(), fields })
}

/// No parameter at all, for the endpoints that show no resource's members.
pub fn parse_none(query: Option<&str>) -> Result<(), Failure> {
    Params::read(query).finish()
}

/// A page of a to-many relationship: `page[number]` and `page[size]` only.
pub fn parse_page(query: Option<&str>) -> Result<(ListQuery, u64), Failure> {
    let mut params = Params::read(query);
    let (query, number) = params.page();
    params.finish()?;
    Ok((query, number))
}

/// A list request.
pub fn parse_list(query: Option<&str>) -> Result<ListRequest, Failure> {
    let mut params = Params::read(query);
    let shape = params.shape();
    let (mut query, number) = params.page();
    query.sort = params.take("sort").map(|text| parse_sort(&mut params, &text)).unwrap_or_default();
    let filter = parse_filter(&mut params);
    params.finish()?;
    Ok(ListRequest { filter, query, number, shape })
}

/// A number written in ASCII digits only (no sign, no spaces).
fn digits(text: &str) -> Option<u64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// A comma list of `created_at` and `updated_at`, each `-` for descending.
fn parse_sort(params: &mut Params, text: &str) -> Vec<Sort> {
    let mut sort = Vec::new();
    for item in text.split(',').map(str::trim) {
        let (descending, name) = item.strip_prefix('-').map_or((false, item), |name| (true, name));
        let key = match name {
            "created_at" => SortKey::Created,
            "updated_at" => SortKey::Updated,
            other => {
                let message = format!("`{other}` is not a sort field (created_at, updated_at)");
                params.reject("sort", ValidationCode::InvalidChoice, message);
                continue;
            }
        };
        sort.push(Sort { key, descending });
    }
    sort
}

/// The predicates and their aliases. Two predicates on one attribute both hold (their values
/// intersect); an id that could not be one matches nothing, like an id outside the scope.
fn parse_filter(params: &mut Params) -> MembershipFilter {
    let mut filter = MembershipFilter::default();
    let names: Vec<String> = params.values.keys().filter(|name| name.starts_with("filter[")).cloned().collect();
    for name in names {
        let value = params.take(&name).unwrap_or_default();
        let predicate = name
            .strip_prefix("filter[q][")
            .or_else(|| name.strip_prefix("filter["))
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or_default();
        let values: Vec<&str> = value.split(',').map(str::trim).collect();
        let (attribute, many) = match predicate {
            "status_eq" => ("status", false),
            "status_in" | "status" => ("status", true),
            "organization_id_eq" => ("organization_id", false),
            "organization_id_in" | "organization_id" => ("organization_id", true),
            "user_email_eq" | "user_email" => ("user_email", false),
            _ => {
                let message =
                    "is not a filter (status_eq, status_in, organization_id_eq, organization_id_in, user_email_eq)";
                params.reject(&name, ValidationCode::UnknownField, message);
                continue;
            }
        };
        let one_value = attribute == "user_email" || values.len() == 1;
        if values.contains(&"") || (!many && !one_value) {
            let message = if many { "must be values separated by commas" } else { "must name one value" };
            params.reject(&name, ValidationCode::InvalidFormat, message);
            continue;
        }
        match attribute {
            "status" => {
                let mut statuses = Vec::new();
                for value in &values {
                    match wire::status_named(value) {
                        Some(status) => statuses.push(status),
                        None => {
                            let message = format!("`{value}` is not a status (pending, active, rejected)");
                            params.reject(&name, ValidationCode::InvalidChoice, message);
                        }
                    }
                }
                filter.statuses = Some(intersect(filter.statuses.take(), statuses));
            }
            "organization_id" => {
                let ids = values.iter().filter(|id| is_id(id)).map(|id| (*id).to_owned()).collect();
                filter.organisation_ids = Some(intersect(filter.organisation_ids.take(), ids));
            }
            _ => {
                // The whole value: an e-mail may hold a comma.
                let email = value.trim().to_owned();
                let agrees = filter.email.as_ref().is_none_or(|other| other.eq_ignore_ascii_case(&email));
                if email.len() <= MAX_EMAIL_LEN && agrees {
                    filter.email = Some(email);
                } else {
                    filter.organisation_ids = Some(Vec::new());
                }
            }
        }
    }
    filter
}

fn intersect<T: PartialEq>(before: Option<Vec<T>>, values: Vec<T>) -> Vec<T> {
    match before {
        None => values,
        Some(before) => values.into_iter().filter(|value| before.contains(value)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use roster_core::model::MembershipStatus;

    use super::*;

    fn rejected(query: &str) -> Vec<String> {
        match parse_list(Some(query)) {
            Err(Failure::Query(errors)) => errors.iter().map(|e| crate::problem::native_name(&e.field)).collect(),
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_newest_ten() {
        let request = parse_list(None).unwrap();
        assert_eq!(request.filter, MembershipFilter::default());
        assert_eq!((request.query.limit, request.query.position, request.number), (10, Position::Offset(0), 1));
        assert!(request.query.sort.is_empty());
    }

    #[test]
    fn encoded_and_literal_brackets_read_alike() {
        let encoded = parse_list(Some(
            "include=organization%2Crole&sort=-updated_at&page%5Bnumber%5D=3&page%5Bsize%5D=2\
             &filter%5Bq%5D%5Bstatus_in%5D=active%2Cpending&filter[organization_id]=org_a",
        ))
        .unwrap();
        assert_eq!(encoded.query.position, Position::Offset(4));
        assert_eq!(encoded.query.limit, 2);
        assert_eq!(encoded.query.sort, [Sort { key: SortKey::Updated, descending: true }]);
        assert_eq!(encoded.filter.statuses, Some(vec![MembershipStatus::Accepted, MembershipStatus::Pending]));
        assert_eq!(encoded.filter.organisation_ids, Some(vec!["org_a".to_owned()]));
        assert_eq!(encoded.shape.include, Include { organization: true, role: true });
    }

    #[test]
    fn two_predicates_on_one_attribute_both_hold() {
        let request = parse_list(Some("filter[q][status_in]=active,pending&filter[q][status_eq]=pending")).unwrap();
        assert_eq!(request.filter.statuses, Some(vec![MembershipStatus::Pending]));
        let emails = parse_list(Some("filter[q][user_email_eq]=a@x.io&filter[user_email]=b@x.io")).unwrap();
        assert_eq!(emails.filter.organisation_ids, Some(Vec::new()), "two different e-mails match nothing");
    }

    #[test]
    fn every_bad_parameter_is_named() {
        assert_eq!(rejected("page[size]=26&page[number]=0"), ["page[number]", "page[size]"]);
        assert_eq!(rejected("page%5Bsize%5D=ten"), ["page[size]"]);
        assert_eq!(rejected("sort=name"), ["sort"]);
        assert_eq!(rejected("include=versions"), ["include"]);
        assert_eq!(rejected("filter[q][status_eq]=accepted"), ["filter[q][status_eq]"]);
        assert_eq!(rejected("filter[q][status_eq]=active,pending"), ["filter[q][status_eq]"]);
        assert_eq!(rejected("filter[q][name_cont]=x"), ["filter[q][name_cont]"]);
        assert_eq!(rejected("fields[users]=email"), ["fields[users]"]);
        assert_eq!(rejected("fields[memberships]=password"), ["fields[memberships]"]);
        assert_eq!(rejected("limit=5"), ["limit"]);
        assert_eq!(rejected("filter[q][status_eq]=active,"), ["filter[q][status_eq]"]);
        assert_eq!(rejected("filter[q][organization_id_in]=org_a,,org_b"), ["filter[q][organization_id_in]"]);
        assert_eq!(rejected("filter[q][user_email_eq]=a%00b&include=%00"), ["filter[q][user_email_eq]", "include"]);
        assert_eq!(rejected("sort=created_at&sort=updated_at"), ["sort"]);
        assert_eq!(rejected("page[number]=99999999999999999999"), ["page[number]"]);
        assert_eq!(rejected("page[number]=9223372036854775807&page[size]=25"), ["page[number]"]);
    }

    #[test]
    fn a_single_membership_takes_its_shape_only() {
        let shape = parse_shape(Some("include=role&fields[memberships]=status,role")).unwrap();
        assert_eq!(shape.include, Include { organization: false, role: true });
        assert!(shape.fields.shows("memberships", "status"));
        assert!(!shape.fields.shows("memberships", "owner"));
        assert!(shape.fields.shows("organizations", "name"));
        assert!(matches!(parse_shape(Some("page[size]=1")), Err(Failure::Query(_))));
    }
}
