//! Errors with stable, greppable codes. Every layer returns these; the HTTP layer renders them in
//! one place per wire format, so a new variant forces a decision there (the match is exhaustive).

use std::fmt;

/// Why one input field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationCode {
    Required,
    InvalidType,
    MinLength,
    MaxLength,
    InvalidEmail,
    InvalidChoice,
    OutOfRange,
    InvalidFormat,
    UnknownField,
    InvalidReference,
}

impl ValidationCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "VALIDATION_REQUIRED",
            Self::InvalidType => "VALIDATION_INVALID_TYPE",
            Self::MinLength => "VALIDATION_MIN_LENGTH",
            Self::MaxLength => "VALIDATION_MAX_LENGTH",
            Self::InvalidEmail => "VALIDATION_INVALID_EMAIL",
            Self::InvalidChoice => "VALIDATION_INVALID_CHOICE",
            Self::OutOfRange => "VALIDATION_OUT_OF_RANGE",
            Self::InvalidFormat => "VALIDATION_INVALID_FORMAT",
            Self::UnknownField => "VALIDATION_UNKNOWN_FIELD",
            Self::InvalidReference => "VALIDATION_INVALID_REFERENCE",
        }
    }
}

/// Which input an error is about, whatever the wire format: each adapter renders it in its own
/// names (`OrganisationId` is `organisation_id` natively and `organizationId` for rebilly).
/// Errors an adapter finds while parsing its own format name the member as that format does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    OrganisationId,
    /// One item of a group's organisations, by position.
    OrganisationIds(usize),
    UserId,
    PartnerGroupId,
    Email,
    Status,
    /// One item of a membership's custom roles, by position.
    RoleIds(usize),
    KeyType,
    Abilities,
    ExpiresAt,
    /// The object a `starting_after` page starts after.
    StartingAfter,
    /// A member of an adapter's wire format, named as that format names it (`settings.name`).
    Wire(String),
}

impl From<&str> for Field {
    fn from(name: &str) -> Self {
        Self::Wire(name.to_owned())
    }
}

impl From<String> for Field {
    fn from(name: String) -> Self {
        Self::Wire(name)
    }
}

impl PartialEq<&str> for Field {
    fn eq(&self, other: &&str) -> bool {
        matches!(self, Self::Wire(name) if name == other)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Field,
    pub code: ValidationCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<Field>, code: ValidationCode, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// One or more fields are invalid; never empty.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("missing or invalid credentials")]
    Unauthorised,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    InvalidRequest(String),
    /// Carries the id of the membership that exists (some wire formats answer with it).
    #[error("a membership for this user and organisation already exists")]
    MembershipAlreadyExists { existing_id: String },
    #[error("{0}")]
    MembershipDeletionForbidden(&'static str),
    #[error("{0}")]
    MembershipUpdateForbidden(&'static str),
    #[error("a user with this email already exists")]
    UserAlreadyExists,
    #[error("a role with this name already exists in the organisation")]
    RoleAlreadyExists,
    /// The database cannot be reached right now; the request may be retried.
    #[error("service unavailable")]
    Unavailable,
    /// The database gave up a transaction for another one (a deadlock, a serialisation
    /// failure): it may be run again from the start. Unavailable to a client when it persists.
    #[error("the transaction conflicted with another")]
    Contention,
    /// A bug or an unexpected storage failure. The text is for the log, never for the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn field(field: impl Into<Field>, code: ValidationCode, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// `Ok` when no field was refused, else every refusal at once.
    pub fn unless_invalid(errors: Vec<FieldError>) -> Result<()> {
        if errors.is_empty() { Ok(()) } else { Err(Self::Validation(errors)) }
    }

    pub fn invalid_reference(field: impl Into<Field>) -> Self {
        Self::field(field, ValidationCode::InvalidReference, "does not exist")
    }

    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(errors) => errors.first().map_or("VALIDATION_INVALID_FORMAT", |e| e.code.as_str()),
            Self::Unauthorised => "UNAUTHORISED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::MembershipAlreadyExists { .. } => "MEMBERSHIP_ALREADY_EXISTS",
            Self::MembershipDeletionForbidden(_) => "MEMBERSHIP_DELETION_FORBIDDEN",
            Self::MembershipUpdateForbidden(_) => "MEMBERSHIP_UPDATE_FORBIDDEN",
            Self::UserAlreadyExists => "USER_ALREADY_EXISTS",
            Self::RoleAlreadyExists => "ROLE_ALREADY_EXISTS",
            Self::Unavailable | Self::Contention => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// A sentence safe to show a client, naming fields with `name`: internals are never echoed.
    pub fn public_detail(&self, name: impl Fn(&Field) -> String) -> String {
        match self {
            Self::Validation(errors) => {
                errors.iter().map(|e| format!("{}: {}", name(&e.field), e.message)).collect::<Vec<_>>().join("; ")
            }
            Self::Internal(_) => "an internal error occurred".to_owned(),
            other => other.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
