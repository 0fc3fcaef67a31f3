//! Reading client input into core types. [`Fields`] walks one JSON object (a body, or query
//! parameters gathered into one), collects every invalid field instead of stopping at the first,
//! and refuses fields nobody asked for — which also refuses read-only fields. The value parsers
//! here are shared by the native API and the dialects, so a value valid in one is valid in all.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::{Error, FieldError, ValidationCode, ids::MAX_ID_LEN, time::Timestamp};

/// Why one value was refused; `at` names a position inside it (`permissions.2`, `metadata.k`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: ValidationCode,
    pub message: String,
    pub at: Option<String>,
}

impl Invalid {
    pub fn new(code: ValidationCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), at: None }
    }

    fn at(mut self, inner: impl Into<String>) -> Self {
        let inner = inner.into();
        self.at = Some(match self.at {
            Some(deeper) => format!("{inner}.{deeper}"),
            None => inner,
        });
        self
    }
}

pub type Parsed<T> = Result<T, Invalid>;

pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    seen: Vec<&'a str>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self { map, prefix: String::new(), seen: Vec::new(), errors: Vec::new() }
    }

    /// A body must be a JSON object; anything else is one invalid field named `body`.
    pub fn of_body(body: &'a Value) -> Result<Self, Error> {
        body.as_object()
            .map(Self::new)
            .ok_or_else(|| Error::field("body", ValidationCode::InvalidType, "must be a JSON object"))
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn take(&mut self, name: &'a str) -> Option<&'a Value> {
        self.seen.push(name);
        self.map.get(name)
    }

    fn record<T>(&mut self, name: &str, parsed: Parsed<T>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(invalid) => {
                let field = match &invalid.at {
                    Some(at) => format!("{}.{at}", self.path(name)),
                    None => self.path(name),
                };
                self.errors.push(FieldError::new(field, invalid.code, invalid.message));
                None
            }
        }
    }

    /// Records an error found by the caller (a cross-field rule, say).
    pub fn reject(&mut self, name: &str, code: ValidationCode, message: impl Into<String>) {
        self.errors.push(FieldError::new(self.path(name), code, message));
    }

    pub fn is_present(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn required<T>(&mut self, name: &'a str, parse: impl FnOnce(&Value) -> Parsed<T>) -> Option<T> {
        match self.take(name) {
            Some(value) => self.record(name, parse(value)),
            None => {
                self.reject(name, ValidationCode::Required, "is required");
                None
            }
        }
    }

    /// `None` when absent or invalid; an invalid value is recorded.
    pub fn optional<T>(&mut self, name: &'a str, parse: impl FnOnce(&Value) -> Parsed<T>) -> Option<T> {
        let value = self.take(name)?;
        self.record(name, parse(value))
    }

    /// Reads a nested object with its own field rules, reporting paths as `name.field`.
    pub fn nested<T>(&mut self, name: &'a str, read: impl FnOnce(&mut Fields<'a>) -> T) -> Option<T> {
        let value = self.take(name)?;
        let Some(map) = value.as_object() else {
            self.reject(name, ValidationCode::InvalidType, "must be an object");
            return None;
        };
        let mut inner = Fields { map, prefix: format!("{}.", self.path(name)), seen: Vec::new(), errors: Vec::new() };
        let result = read(&mut inner);
        let inner_errors = inner.into_errors();
        let clean = inner_errors.is_empty();
        self.errors.extend(inner_errors);
        clean.then_some(result)
    }

    fn into_errors(self) -> Vec<FieldError> {
        let mut errors: Vec<FieldError> = self
            .map
            .keys()
            .filter(|key| !self.seen.contains(&key.as_str()))
            .map(|key| {
                FieldError::new(format!("{}{key}", self.prefix), ValidationCode::UnknownField, "is not a known field")
            })
            .collect();
        errors.extend(self.errors);
        errors
    }

    /// Ends reading: unknown fields first, then every invalid value, in the order read.
    pub fn finish(self) -> Result<(), Error> {
        let errors = self.into_errors();
        Error::unless_invalid(errors)
    }
}

/// A required value after [`Fields::finish`] succeeded, which guarantees it is there; never panics.
pub fn present<T>(value: Option<T>) -> Result<T, Error> {
    value.ok_or_else(|| Error::internal("a required field was missing after validation"))
}

/// NUL is the one character PostgreSQL cannot store in text (SQLite can, which would make a
/// database impossible to move), so no string Roster keeps may hold one.
fn refuse_nul(text: &str) -> Parsed<&str> {
    if text.contains('\0') {
        return Err(Invalid::new(ValidationCode::InvalidFormat, "must not contain NUL characters"));
    }
    Ok(text)
}

/// Every string parser starts here, so every string Roster reads is free of NUL.
fn expect_str(value: &Value) -> Parsed<&str> {
    value.as_str().ok_or_else(|| Invalid::new(ValidationCode::InvalidType, "must be a string")).and_then(refuse_nul)
}

pub fn boolean(value: &Value) -> Parsed<bool> {
    value.as_bool().ok_or_else(|| Invalid::new(ValidationCode::InvalidType, "must be a boolean"))
}

/// A string of `min..=max` characters; `min >= 1` also refuses blank text.
pub fn text(min: usize, max: usize) -> impl Fn(&Value) -> Parsed<String> {
    move |value| {
        let text = expect_str(value)?;
        let length = text.chars().count();
        if length < min || (min > 0 && text.trim().is_empty()) {
            let message =
                if min == 1 { "must not be blank".to_owned() } else { format!("must be at least {min} characters") };
            return Err(Invalid::new(ValidationCode::MinLength, message));
        }
        if length > max {
            return Err(Invalid::new(ValidationCode::MaxLength, format!("must be at most {max} characters")));
        }
        Ok(text.to_owned())
    }
}

/// `null` or what `inner` accepts.
pub fn nullable<T>(inner: impl Fn(&Value) -> Parsed<T>) -> impl Fn(&Value) -> Parsed<Option<T>> {
    move |value| {
        if value.is_null() { Ok(None) } else { inner(value).map(Some) }
    }
}

/// Whether `text` has the shape of a Roster id: ASCII letters, digits and `_`, at most
/// [`MAX_ID_LEN`] long. Anything else names nothing and is answered without a lookup.
pub fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_ID_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub fn id(value: &Value) -> Parsed<String> {
    let text = expect_str(value)?;
    if !is_id(text) {
        return Err(Invalid::new(ValidationCode::InvalidFormat, "is not a valid id"));
    }
    Ok(text.to_owned())
}

pub const MAX_EMAIL_LEN: usize = 254;

/// Parses an e-mail address: one `@`, a plausible local part and a dotted domain name.
pub fn parse_email(text: &str) -> Parsed<String> {
    if text.chars().count() > MAX_EMAIL_LEN {
        return Err(Invalid::new(ValidationCode::MaxLength, format!("must be at most {MAX_EMAIL_LEN} characters")));
    }
    let invalid = || Invalid::new(ValidationCode::InvalidEmail, "not a valid email address");
    let (local, domain) = text.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok { Ok(text.to_owned()) } else { Err(invalid()) }
}

/// The form in which e-mail addresses are compared and stored for uniqueness: ignoring case
/// (Unicode-aware), the same on every backend.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

pub fn email(value: &Value) -> Parsed<String> {
    parse_email(expect_str(value)?)
}

/// One of a closed set of strings, parsed by `parse`.
pub fn choice<T>(choices: &'static [&'static str], parse: fn(&str) -> Option<T>) -> impl Fn(&Value) -> Parsed<T> {
    move |value| {
        let text = expect_str(value)?;
        parse(text).ok_or_else(|| {
            Invalid::new(ValidationCode::InvalidChoice, format!("must be one of: {}", choices.join(", ")))
        })
    }
}

/// A list of at most `max` items, each read by `item`; duplicates are dropped, order kept.
pub fn list<T: PartialEq>(max: usize, item: impl Fn(&Value) -> Parsed<T>) -> impl Fn(&Value) -> Parsed<Vec<T>> {
    move |value| {
        let items = value.as_array().ok_or_else(|| Invalid::new(ValidationCode::InvalidType, "must be an array"))?;
        if items.len() > max {
            return Err(Invalid::new(ValidationCode::MaxLength, format!("must have at most {max} items")));
        }
        let mut parsed = Vec::with_capacity(items.len());
        for (index, value) in items.iter().enumerate() {
            let one = item(value).map_err(|invalid| invalid.at(index.to_string()))?;
            if !parsed.contains(&one) {
                parsed.push(one);
            }
        }
        Ok(parsed)
    }
}

pub const MAX_PERMISSION_LEN: usize = 100;

/// `*`, `resource:action` with `*` allowed for either part, an operation name
/// (`GetCustomerCollection`), or three or more words joined by `:` (`account:account:read`);
/// the last two match only themselves.
pub fn parse_permission(text: &str) -> Parsed<String> {
    if text.len() > MAX_PERMISSION_LEN {
        return Err(Invalid::new(
            ValidationCode::MaxLength,
            format!("must be at most {MAX_PERMISSION_LEN} characters"),
        ));
    }
    let word = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    let part = |part: &str| part == "*" || word(part);
    let parts: Vec<&str> = text.split(':').collect();
    let valid = match parts.as_slice() {
        _ if text == "*" => true,
        [operation] => word(operation),
        [resource, action] => part(resource) && part(action),
        words => words.iter().all(|w| word(w)),
    };
    if valid {
        Ok(text.to_owned())
    } else {
        Err(Invalid::new(
            ValidationCode::InvalidFormat,
            "must be *, resource:action (either may be *), an operation name, or words joined by :",
        ))
    }
}

pub fn permission(value: &Value) -> Parsed<String> {
    parse_permission(expect_str(value)?)
}

/// An IP address or a CIDR block, kept as sent.
pub fn ip_or_cidr(value: &Value) -> Parsed<String> {
    let text = expect_str(value)?;
    let valid = text.parse::<IpAddr>().is_ok() || text.parse::<ipnet::IpNet>().is_ok();
    if valid {
        Ok(text.to_owned())
    } else {
        Err(Invalid::new(ValidationCode::InvalidFormat, "must be an IP address or CIDR block"))
    }
}

pub const MAX_REFERENCE_LEN: usize = 255;

/// A membership's `reference` or `reference_origin`: a caller's own id for it, or null.
pub fn reference(value: &Value) -> Parsed<Option<String>> {
    nullable(text(0, MAX_REFERENCE_LEN))(value)
}

pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_KEY_LEN: usize = 40;
pub const MAX_METADATA_VALUE_LEN: usize = 500;

/// A flat object of string values, like Stripe's: bounded so it cannot bloat every row.
pub fn metadata(value: &Value) -> Parsed<Map<String, Value>> {
    let map = value.as_object().ok_or_else(|| Invalid::new(ValidationCode::InvalidType, "must be an object"))?;
    if map.len() > MAX_METADATA_KEYS {
        return Err(Invalid::new(ValidationCode::MaxLength, format!("must have at most {MAX_METADATA_KEYS} keys")));
    }
    for (key, item) in map {
        refuse_nul(key).map_err(|invalid| invalid.at(key.clone()))?;
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_LEN {
            return Err(Invalid::new(
                ValidationCode::MaxLength,
                format!("keys must be 1 to {MAX_METADATA_KEY_LEN} characters"),
            )
            .at(key.clone()));
        }
        let text = expect_str(item).map_err(|invalid| invalid.at(key.clone()))?;
        if text.chars().count() > MAX_METADATA_VALUE_LEN {
            return Err(Invalid::new(
                ValidationCode::MaxLength,
                format!("must be at most {MAX_METADATA_VALUE_LEN} characters"),
            )
            .at(key.clone()));
        }
    }
    Ok(map.clone())
}

/// An RFC 3339 date-time, in the future.
pub fn future_timestamp(now: Timestamp) -> impl Fn(&Value) -> Parsed<Timestamp> {
    move |value| {
        let at = timestamp(value)?;
        if at <= now {
            return Err(Invalid::new(ValidationCode::OutOfRange, "must be in the future"));
        }
        Ok(at)
    }
}

/// An RFC 3339 date-time (`as_of`, `created_gte`).
pub fn timestamp(value: &Value) -> Parsed<Timestamp> {
    Timestamp::parse_rfc3339(expect_str(value)?)
        .ok_or_else(|| Invalid::new(ValidationCode::InvalidFormat, "must be an RFC 3339 date-time"))
}

/// An integer in `min..=max`, from JSON or from a query-string value.
pub fn integer(min: u64, max: u64) -> impl Fn(&Value) -> Parsed<u64> {
    move |value| {
        let number = match value {
            Value::String(text) => text.parse::<i128>().ok(),
            Value::Number(number) => number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from)),
            _ => None,
        };
        let number = number.ok_or_else(|| Invalid::new(ValidationCode::InvalidType, "must be an integer"))?;
        u64::try_from(number)
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| Invalid::new(ValidationCode::OutOfRange, format!("must be between {min} and {max}")))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Field;

    #[test]
    fn every_invalid_field_is_listed_unknown_ones_first() {
        let body = json!({"email": "nope", "role": "BOSS", "extra": 1});
        let mut fields = Fields::of_body(&body).unwrap();
        fields.required("first_name", text(1, 100));
        fields.required("email", email);
        fields.required("role", choice(crate::model::MembershipRole::CHOICES, crate::model::MembershipRole::parse));
        let Err(Error::Validation(errors)) = fields.finish() else { panic!("expected errors") };
        let found: Vec<(Field, &str)> = errors.iter().map(|e| (e.field.clone(), e.code.as_str())).collect();
        let expected = [
            ("extra", "VALIDATION_UNKNOWN_FIELD"),
            ("first_name", "VALIDATION_REQUIRED"),
            ("email", "VALIDATION_INVALID_EMAIL"),
            ("role", "VALIDATION_INVALID_CHOICE"),
        ]
        .map(|(field, code)| (Field::from(field), code));
        assert_eq!(found, expected);
    }

    #[test]
    fn emails() {
        for good in ["ada@example.com", "a.b+tag@sub.example.co.uk", "ADA@EXAMPLE.COM"] {
            assert!(parse_email(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a b@example.com",
            "ada@exa_mple.com",
            ".ada@example.com",
        ] {
            assert_eq!(parse_email(bad).map_err(|e| e.code), Err(ValidationCode::InvalidEmail), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(parse_email(&long).map_err(|e| e.code), Err(ValidationCode::MaxLength));
    }

    #[test]
    fn permissions_follow_the_grammar() {
        for good in [
            "*",
            "customers:read",
            "*:read",
            "customers:*",
            "*:*",
            "GetCustomerCollection",
            "billing.invoices:write",
            "a:b:c",
            "account:account:read",
        ] {
            assert!(parse_permission(good).is_ok(), "{good}");
        }
        for bad in ["", ":", "a:", ":b", "a:b:", "a:*:c", "*:b:c", "a::c", "a*", "has space", "semi;colon"] {
            assert!(parse_permission(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_permission(&"a".repeat(101)).map_err(|e| e.code), Err(ValidationCode::MaxLength));
    }

    #[test]
    fn nested_list_and_metadata_errors_name_their_position() {
        let body = json!({"permissions": ["ok:read", "bad perm"], "metadata": {"k": 1}, "settings": {"flag": "x"}});
        let mut fields = Fields::of_body(&body).unwrap();
        fields.optional("permissions", list(100, permission));
        fields.optional("metadata", metadata);
        fields.nested("settings", |inner| inner.optional("flag", boolean));
        let Err(Error::Validation(errors)) = fields.finish() else { panic!("expected errors") };
        let found: Vec<Field> = errors.iter().map(|e| e.field.clone()).collect();
        assert_eq!(found, ["permissions.1", "metadata.k", "settings.flag"]);
    }

    #[test]
    fn integers_from_query_strings() {
        let limit = integer(1, 1000);
        assert_eq!(limit(&json!("50")), Ok(50));
        assert_eq!(limit(&json!("0")).map_err(|e| e.code), Err(ValidationCode::OutOfRange));
        assert_eq!(limit(&json!("-1")).map_err(|e| e.code), Err(ValidationCode::OutOfRange));
        assert_eq!(limit(&json!("ten")).map_err(|e| e.code), Err(ValidationCode::InvalidType));
        assert_eq!(limit(&json!(5)), Ok(5));
    }
}
