//! The OpenAPI document's shared parts: the problem document, list envelopes, paging
//! parameters and the security schemes (one per kind of credential). The operations themselves
//! are described on their handlers, so a route and its documentation have one source.

use serde::Serialize;
use utoipa::{
    IntoParams, Modify, OpenApi, ToSchema,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

/// An RFC 9457 problem document: every error Roster answers.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[schema(example = "about:blank")]
    r#type: String,
    #[schema(example = "Unprocessable Entity")]
    title: String,
    #[schema(example = 422)]
    status: u16,
    #[schema(example = "email: not a valid email address")]
    detail: String,
    /// A stable code: `VALIDATION_*`, `UNAUTHORISED`, `FORBIDDEN`, `NOT_FOUND`,
    /// `INVALID_REQUEST`, `INVALID_JSON`, `UNSUPPORTED_MEDIA_TYPE`, `PAYLOAD_TOO_LARGE`,
    /// `MEMBERSHIP_ALREADY_EXISTS`, `MEMBERSHIP_DELETION_FORBIDDEN`,
    /// `MEMBERSHIP_UPDATE_FORBIDDEN`, `USER_ALREADY_EXISTS`, `ROLE_ALREADY_EXISTS`,
    /// `SERVICE_UNAVAILABLE`, `INTERNAL`.
    #[schema(example = "VALIDATION_INVALID_EMAIL")]
    code: String,
    /// Present on validation problems: every invalid field, unknown fields first.
    errors: Option<Vec<FieldProblem>>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    #[schema(example = "email")]
    field: String,
    #[schema(example = "VALIDATION_INVALID_EMAIL")]
    code: String,
    #[schema(example = "not a valid email address")]
    message: String,
}

/// A page of a list, newest first.
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    #[schema(example = "list")]
    object: String,
    /// Every match in the caller's scope.
    count: u64,
    /// The next page (path and query), or null on the last.
    next: Option<String>,
    /// The previous page with `offset` paging; null on the first and with `cursor`.
    previous: Option<String>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
    results: Vec<T>,
}

/// A page of a list that is not counted (events), newest first.
#[derive(Serialize, ToSchema)]
pub struct UncountedList<T> {
    #[schema(example = "list")]
    object: String,
    /// The next page (path and query), or null on the last.
    next: Option<String>,
    /// The previous page with `offset` paging; null on the first and with `cursor`.
    previous: Option<String>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
    results: Vec<T>,
}

/// Paging of every list: `limit` with either `offset` or `cursor`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the paging parameters in the OpenAPI document; list.rs reads them")]
pub struct Paging {
    /// Results per page.
    #[param(minimum = 1, maximum = 1000, default = 50)]
    limit: Option<u32>,
    /// Results to skip; not with `cursor`.
    #[param(minimum = 0)]
    offset: Option<u64>,
    /// `next_cursor` of a previous page; not with `offset`. Costs the same at any depth.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let schemes = [
            ("master_key", "The operator's --master-key: partner management only."),
            (
                "partner_key",
                "A partner group's secret key (sk_live_…, sk_test_…): its partner's organisations (admin group) or \
                 its assigned ones, within its abilities.",
            ),
            (
                "organisation_key",
                "An organisation's secret key (sk_live_…, sk_test_…): that one organisation. 401 on /v1/memberships.",
            ),
            ("user", "A user token (ut_live_…, ut_test_…) or a JWT of the configured identity provider: /v1/me only."),
        ];
        for (name, description) in schemes {
            let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description)).build();
            components.add_security_scheme(name, SecurityScheme::Http(scheme));
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster",
        description = "Self-hosted memberships: which users belong to which organisations, with what role and \
                       permissions, and who may see or change that.",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    components(schemas(Problem, FieldProblem, MembershipRole, MembershipStatus, AccessScope, KeyType, Permission))
)]
pub struct ApiDoc;

/// The choices of closed-set fields, as the OpenAPI document names them.
#[derive(Serialize, ToSchema)]
#[expect(dead_code, reason = "names a closed set in the OpenAPI document; the core parses it")]
pub enum MembershipRole {
    #[serde(rename = "ADMIN")]
    Admin,
    #[serde(rename = "STANDARD")]
    Standard,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[expect(dead_code, reason = "names a closed set in the OpenAPI document; the core parses it")]
pub enum MembershipStatus {
    Pending,
    Accepted,
    Rejected,
}

#[derive(Serialize, ToSchema)]
#[expect(dead_code, reason = "names a closed set in the OpenAPI document; the core parses it")]
pub enum AccessScope {
    #[serde(rename = "live_access")]
    Live,
    #[serde(rename = "test_access")]
    Test,
    #[serde(rename = "full_access")]
    Full,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[expect(dead_code, reason = "names a closed set in the OpenAPI document; the core parses it")]
pub enum KeyType {
    Secret,
    Publishable,
    UserToken,
}

/// `*`, `resource:action` (either part may be `*`), an operation name, or three or more words
/// joined by `:` (`account:account:read`, matching only itself).
pub struct Permission;

impl utoipa::PartialSchema for Permission {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^(\*|[A-Za-z0-9_.-]+|(\*|[A-Za-z0-9_.-]+):(\*|[A-Za-z0-9_.-]+)|[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+){2,})$"))
            .max_length(Some(100))
            .examples(["invoices:write"])
            .into()
    }
}

impl ToSchema for Permission {}
