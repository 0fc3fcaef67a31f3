//! commercelayer's routes: find the caller (`Authorization: Bearer`), parse the query string
//! and the request document, call one `roster_app` operation, render a JSON:API document.

use axum::{
    extract::{FromRequestParts, OriginalUri, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use roster_app::{
    Caller,
    memberships::{self as operations, CreateMembership, Referenced, References},
};
use roster_core::{
    Error, ValidationCode,
    input::{Fields, Invalid, Parsed, choice, email, is_id, metadata, present, reference},
    model::{BuiltinRole, Membership, MembershipRole, MembershipStatus},
    policy::Access,
    store::MembershipPatch,
};
use serde_json::{Map, Value, json};

use super::{
    document::{Document, IgnoredDocument, respond},
    errors::Failure,
    query::{self, Include, Shape},
    wire::{self, Links, RoleOf, RoleResource},
};
use crate::{auth, extract::IdPath, state::AppState};

type Answer = Result<Response, Failure>;

/// The relationships whose linkage the membership itself holds (`versions` is read apart).
pub const RELATIONSHIPS: [&str; 4] = ["organization", "role", "application_memberships", "membership_profile"];

/// The caller. No `Authorization` at all is told apart from an invalid one (401
/// `UNAUTHORIZED` versus `INVALID_TOKEN`).
pub struct ApiCaller(Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(Failure::NoCredential);
        }
        // A credential that is not a bearer token is as invalid as a wrong one.
        Ok(Self(auth::caller(parts, state, auth::bearer(parts)).await?))
    }
}

/// Where this API lives for the request, for absolute links.
pub struct ApiLinks(Links);

impl FromRequestParts<AppState> for ApiLinks {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        Ok(Self(Links::new(&super::super::origin(parts, state))))
    }
}

/// What reading memberships with `include` reads beside them.
fn references(include: Include) -> References {
    References {
        organisations: include.organization,
        role: include.role.then_some(wire::custom_role_of as fn(&Membership) -> Option<&str>),
    }
}

/// `{data, included?}` of one membership and what it refers to.
fn single(membership: &Membership, found: &Referenced, links: &Links, shape: &Shape) -> Value {
    let mut document = json!({ "data": wire::membership(membership, links, shape) });
    if shape.include.any() {
        let memberships = std::slice::from_ref(membership);
        let included = wire::included(memberships, &found.organisations, &found.roles, shape.include, &shape.fields);
        insert(&mut document, "included", Value::Array(included));
    }
    document
}

/// `{data, included?}` of a membership just written: read again with what `include` asks for.
async fn written(
    state: &AppState,
    caller: &Caller,
    membership: Membership,
    links: &Links,
    shape: &Shape,
) -> Result<Value, Error> {
    if !shape.include.any() {
        return Ok(single(&membership, &Referenced::default(), links, shape));
    }
    let (membership, found) =
        operations::get_with_references(&state.app, caller, &membership.id, references(shape.include)).await?;
    Ok(single(&membership, &found, links, shape))
}

fn insert(document: &mut Value, name: &str, value: Value) {
    if let Some(members) = document.as_object_mut() {
        members.insert(name.to_owned(), value);
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiLinks(links): ApiLinks,
    OriginalUri(uri): OriginalUri,
) -> Answer {
    operations::authorise(&caller, Access::Read)?;
    let request = query::parse_list(uri.query())?;
    let held = state.app.hold_list_rows(request.query.limit).await?;
    let references = references(request.shape.include);
    let (page, found) =
        operations::list_with_references(&state.app, &caller, &request.filter, &request.query, references).await?;
    drop(held);
    let shape = &request.shape;
    let data: Vec<Value> = page.items.iter().map(|membership| wire::membership(membership, &links, shape)).collect();
    let size = u64::from(request.query.limit);
    let page_count = page.count.div_ceil(size);
    let mut document = json!({
        "data": data,
        "meta": {"record_count": page.count, "page_count": page_count},
        "links": paging_links(&links.collection(), uri.query(), request.number, size, page_count),
    });
    if shape.include.any() {
        let included = wire::included(&page.items, &found.organisations, &found.roles, shape.include, &shape.fields);
        insert(&mut document, "included", Value::Array(included));
    }
    Ok(respond(StatusCode::OK, &document))
}

/// `first`, `prev`, `next` and `last` of a paged collection at `base` (null when there is
/// none), every other parameter as the request sent it.
fn paging_links(base: &str, query: Option<&str>, number: u64, size: u64, page_count: u64) -> Value {
    let link = |number: u64| Value::String(page_link(base, query, number, size));
    let last = page_count.max(1);
    json!({
        "first": link(1),
        "prev": if number > 1 { link((number - 1).min(last)) } else { Value::Null },
        "next": if number < page_count { link(number + 1) } else { Value::Null },
        "last": link(last),
    })
}

/// The collection's URL at page `number`, every other parameter as the request sent it.
fn page_link(base: &str, query: Option<&str>, number: u64, size: u64) -> String {
    let is_page = |pair: &&str| {
        let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
        crate::extract::decode_component(name).is_some_and(|name| name == "page[number]" || name == "page[size]")
    };
    let mut pairs: Vec<String> =
        query.unwrap_or("").split('&').filter(|pair| !pair.is_empty() && !is_page(pair)).map(str::to_owned).collect();
    pairs.push(format!("page%5Bnumber%5D={number}"));
    pairs.push(format!("page%5Bsize%5D={size}"));
    format!("{base}?{}", pairs.join("&"))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiLinks(links): ApiLinks,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
) -> Answer {
    operations::authorise(&caller, Access::Read)?;
    let shape = query::parse_shape(uri.query())?;
    let id = id.checked()?;
    let (membership, found) =
        operations::get_with_references(&state.app, &caller, &id, references(shape.include)).await?;
    Ok(respond(StatusCode::OK, &single(&membership, &found, &links, &shape)))
}

/// An invitation: a pending membership of the user with `user_email` (created with no names
/// when there is none) in the organization, with the role.
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiLinks(links): ApiLinks,
    OriginalUri(uri): OriginalUri,
    body: Result<Document, Failure>,
) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    let shape = query::parse_shape(uri.query())?;
    let Document(document) = body?;
    let new = read_create(&document)?;
    let created = operations::create(&state.app, &caller, new).await?;
    let location = HeaderValue::try_from(links.membership(&created.id))
        .map_err(|error| Error::internal(format!("a self link is not a header value: {error}")))?;
    let body = written(&state, &caller, created, &links, &shape).await?;
    let mut response = respond(StatusCode::CREATED, &body);
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// Only the attributes and relationship sent change; answers the whole resource.
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiLinks(links): ApiLinks,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
    body: Result<Document, Failure>,
) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    let shape = query::parse_shape(uri.query())?;
    let id = id.checked()?;
    let Document(document) = body?;
    let patch = read_update(&document, &id)?;
    let updated = operations::update(&state.app, &caller, &id, patch).await?;
    Ok(respond(StatusCode::OK, &written(&state, &caller, updated, &links, &shape).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    query::parse_none(uri.query())?;
    operations::delete(&state.app, &caller, &id.checked()?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// 204 for a pending membership; its document (the client sends `{"data": {}}`) says nothing.
pub async fn resend(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
    body: Result<IgnoredDocument, Failure>,
) -> Answer {
    operations::authorise(&caller, Access::Write)?;
    query::parse_none(uri.query())?;
    body?;
    operations::resend_invitation(&state.app, &caller, &id.checked()?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The membership the caller reads, with what `references` asks for, for its related
/// resources; their query strings take nothing but `fields[TYPE]`.
async fn related(
    state: &AppState,
    caller: &Caller,
    query: Option<&str>,
    id: IdPath,
    references: References,
) -> Result<(Membership, Referenced, Shape), Failure> {
    operations::authorise(caller, Access::Read)?;
    let shape = query::parse_fields(query)?;
    let (membership, found) = operations::get_with_references(&state.app, caller, &id.checked()?, references).await?;
    Ok((membership, found, shape))
}

fn missing_reference() -> Error {
    Error::internal("a reference read with its membership is missing")
}

pub async fn organization(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
) -> Answer {
    let references = references(Include { organization: true, role: false });
    let (_, found, shape) = related(&state, &caller, uri.query(), id, references).await?;
    let organisation = found.organisations.first().ok_or_else(missing_reference)?;
    Ok(respond(StatusCode::OK, &json!({ "data": wire::organization(organisation, &shape.fields) })))
}

pub async fn role(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
) -> Answer {
    let references = references(Include { organization: false, role: true });
    let (membership, found, shape) = related(&state, &caller, uri.query(), id, references).await?;
    let resource = match RoleOf::of(&membership) {
        RoleOf::Builtin(builtin) => RoleResource::Builtin(builtin),
        RoleOf::Custom(_) => RoleResource::Custom(found.roles.first().ok_or_else(missing_reference)?),
    };
    Ok(respond(StatusCode::OK, &json!({ "data": wire::role(&resource, &shape.fields) })))
}

/// The membership the caller reads, for the endpoints that show nothing of it but its id.
async fn readable(state: &AppState, caller: &Caller, query: Option<&str>, id: IdPath) -> Result<Membership, Failure> {
    operations::authorise(caller, Access::Read)?;
    query::parse_none(query)?;
    Ok(operations::get(&state.app, caller, &id.checked()?).await?)
}

/// A page of the membership's versions (its events, newest first, also after it was deleted),
/// with `meta` counts.
async fn versions_page(
    state: &AppState,
    caller: &Caller,
    query: Option<&str>,
    id: &str,
    base: &str,
) -> Result<(Vec<roster_core::model::Event>, Value, Value), Failure> {
    let (paging, number) = query::parse_page(query)?;
    let page = roster_app::events::membership_versions(&state.app, caller, id, &paging).await?;
    let size = u64::from(paging.limit);
    let page_count = page.count.div_ceil(size);
    let meta = json!({"record_count": page.count, "page_count": page_count});
    Ok((page.items, meta, paging_links(base, query, number, size, page_count)))
}

/// `versions`: the membership's history as `versions` resources.
pub async fn versions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiLinks(links): ApiLinks,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
) -> Answer {
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    let base = format!("{}/versions", links.membership(&id));
    let (events, meta, paging) = versions_page(&state, &caller, uri.query(), &id, &base).await?;
    let data: Vec<Value> = events.iter().map(wire::version).collect();
    Ok(respond(StatusCode::OK, &json!({"data": data, "meta": meta, "links": paging})))
}

/// `/relationships/versions`: the linkage of a page of versions.
pub async fn versions_linkage(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiLinks(links): ApiLinks,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
) -> Answer {
    operations::authorise(&caller, Access::Read)?;
    let id = id.checked()?;
    let own = links.membership(&id);
    let base = format!("{own}/relationships/versions");
    let (events, meta, _) = versions_page(&state, &caller, uri.query(), &id, &base).await?;
    let data: Vec<Value> = events.iter().map(|event| json!({"type": "versions", "id": event.id})).collect();
    Ok(respond(
        StatusCode::OK,
        &json!({
            "data": data,
            "meta": meta,
            "links": {"self": base, "related": format!("{own}/versions")},
        }),
    ))
}

/// A to-many relationship Roster keeps nothing in (`application_memberships`).
pub async fn empty_collection(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
) -> Answer {
    readable(&state, &caller, uri.query(), id).await?;
    Ok(respond(StatusCode::OK, &json!({"data": [], "meta": {"record_count": 0, "page_count": 0}})))
}

/// `membership_profile`: Roster keeps none.
pub async fn no_resource(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
) -> Answer {
    readable(&state, &caller, uri.query(), id).await?;
    Ok(respond(StatusCode::OK, &json!({ "data": null })))
}

/// `/relationships/{relationship}`: its linkage and links.
pub async fn linkage(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiLinks(links): ApiLinks,
    OriginalUri(uri): OriginalUri,
    id: IdPath,
    relationship: &'static str,
) -> Answer {
    let membership = readable(&state, &caller, uri.query(), id).await?;
    let own = links.membership(&membership.id);
    Ok(respond(
        StatusCode::OK,
        &json!({
            "data": wire::linkage(&membership, relationship),
            "links": {
                "self": format!("{own}/relationships/{relationship}"),
                "related": format!("{own}/{relationship}"),
            },
        }),
    ))
}

const TYPE: &str = "memberships";

/// `data.type` must be `memberships` (409 otherwise); `data.id`, when the URL names one, must
/// be it (409), and on a create must not be sent (403).
fn check_identity(data: &Map<String, Value>, url_id: Option<&str>) -> Result<(), Failure> {
    if let Some(kind) = data.get("type")
        && kind.as_str() != Some(TYPE)
    {
        return Err(Failure::Conflict { pointer: "/data/type", detail: format!("data.type must be `{TYPE}`") });
    }
    match (url_id, data.get("id")) {
        (None, Some(_)) => Err(Failure::ClientGeneratedId),
        (Some(url_id), Some(id)) if id.as_str() != Some(url_id) => {
            Err(Failure::Conflict { pointer: "/data/id", detail: "data.id must be the id the URL names".to_owned() })
        }
        _ => Ok(()),
    }
}

fn data(document: &Value) -> Result<&Map<String, Value>, Failure> {
    document
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::InvalidRequest("a request document must have a `data` object".to_owned()).into())
}

/// The members of a request document besides `data` that say nothing to Roster.
fn ignore_top_level(fields: &mut Fields<'_>) {
    for ignored in ["meta", "jsonapi"] {
        fields.optional(ignored, |_| Ok(()));
    }
}

/// The members of a resource object besides its identity, attributes and relationships that
/// say nothing to Roster (JSON:API allows them).
fn ignore_resource_members(data: &mut Fields<'_>) {
    for ignored in ["meta", "links"] {
        data.optional(ignored, |_| Ok(()));
    }
}

/// The role a role linkage names: built-in or a custom role's id (checked by the operation).
#[derive(Debug, Clone, PartialEq, Eq)]
enum RoleChoice {
    Builtin(MembershipRole),
    Custom(String),
}

impl RoleChoice {
    /// `role_admin` is ADMIN with no custom roles; `role_standard` STANDARD; a custom role is
    /// STANDARD with that role.
    fn settings(self) -> (MembershipRole, Vec<String>) {
        match self {
            Self::Builtin(role) => (role, Vec::new()),
            Self::Custom(id) => (MembershipRole::Standard, vec![id]),
        }
    }
}

/// `{data: {type: KIND, id}}`: the id.
fn to_one(kind: &'static str) -> impl Fn(&Value) -> Parsed<String> {
    move |value| {
        let refuse = || {
            Invalid::new(
                ValidationCode::InvalidType,
                format!("must be {{\"data\": {{\"type\": \"{kind}\", \"id\": …}}}}"),
            )
        };
        let data = value.get("data").and_then(Value::as_object).ok_or_else(refuse)?;
        if data.get("type").and_then(Value::as_str) != Some(kind) {
            return Err(refuse());
        }
        let id = data.get("id").and_then(Value::as_str).ok_or_else(refuse)?;
        Ok(id.to_owned())
    }
}

fn organization_id(value: &Value) -> Parsed<String> {
    let id = to_one("organizations")(value)?;
    if !is_id(&id) {
        return Err(Invalid::new(ValidationCode::InvalidReference, "does not exist"));
    }
    Ok(id)
}

fn role_choice(value: &Value) -> Parsed<RoleChoice> {
    let id = to_one("roles")(value)?;
    match BuiltinRole::find(&id) {
        Some(builtin) => Ok(RoleChoice::Builtin(builtin.role)),
        None if is_id(&id) => Ok(RoleChoice::Custom(id)),
        None => Err(Invalid::new(ValidationCode::InvalidReference, "does not exist")),
    }
}

/// Roster keeps no application memberships nor membership profiles: only their empty linkage.
fn nothing(empty: Value) -> impl Fn(&Value) -> Parsed<()> {
    move |value| {
        if value.get("data") == Some(&empty) {
            return Ok(());
        }
        Err(Invalid::new(
            ValidationCode::InvalidReference,
            format!("Roster keeps none of these; send {{\"data\": {empty}}}"),
        ))
    }
}

fn access_scope(value: &Value) -> Parsed<roster_core::model::AccessScope> {
    choice(wire::ACCESS_SCOPES, wire::access_scope_named)(value)
}

/// The settings both create and update may send.
#[derive(Default)]
struct Attributes {
    access_scope: Option<roster_core::model::AccessScope>,
    reference: Option<Option<String>>,
    reference_origin: Option<Option<String>>,
    metadata: Option<Map<String, Value>>,
}

fn read_settings(attributes: &mut Fields<'_>) -> Attributes {
    Attributes {
        access_scope: attributes.optional("access_scope", access_scope),
        reference: attributes.optional("reference", reference),
        reference_origin: attributes.optional("reference_origin", reference),
        metadata: attributes.optional("metadata", metadata),
    }
}

fn patch_of(attributes: Attributes, role: Option<RoleChoice>) -> MembershipPatch {
    let (role, role_ids) = role.map(RoleChoice::settings).unzip();
    MembershipPatch {
        role,
        role_ids,
        access_scope: attributes.access_scope,
        reference: attributes.reference,
        reference_origin: attributes.reference_origin,
        metadata: attributes.metadata,
        ..MembershipPatch::default()
    }
}

fn read_create(document: &Value) -> Result<CreateMembership, Failure> {
    check_identity(data(document)?, None)?;
    let mut fields = Fields::of_body(document)?;
    ignore_top_level(&mut fields);
    let read = fields.nested("data", |data| {
        ignore_resource_members(data);
        data.required("type", |_| Ok(()));
        let attributes = if data.is_present("attributes") {
            data.nested("attributes", |attributes| {
                (attributes.required("user_email", email), read_settings(attributes))
            })
        } else {
            data.reject("attributes.user_email", ValidationCode::Required, "is required");
            None
        };
        let relationships = if data.is_present("relationships") {
            data.nested("relationships", |relationships| {
                relationships.optional("application_memberships", nothing(json!([])));
                relationships.optional("membership_profile", nothing(Value::Null));
                (relationships.required("organization", organization_id), relationships.required("role", role_choice))
            })
        } else {
            for name in ["organization", "role"] {
                data.reject(&format!("relationships.{name}"), ValidationCode::Required, "is required");
            }
            None
        };
        (attributes, relationships)
    });
    fields.finish()?;
    let (Some((Some(user_email), settings)), Some((Some(organisation_id), Some(role)))) = present(read)? else {
        return Err(Error::internal("a required member was missing after validation").into());
    };
    let (role, role_ids) = role.settings();
    let patch = patch_of(settings, None);
    Ok(CreateMembership {
        organisation_id,
        email: user_email,
        first_name: None,
        last_name: None,
        role,
        status: MembershipStatus::Pending,
        settings: MembershipPatch { role_ids: Some(role_ids), ..patch },
    })
}

fn read_update(document: &Value, url_id: &str) -> Result<MembershipPatch, Failure> {
    check_identity(data(document)?, Some(url_id))?;
    let mut fields = Fields::of_body(document)?;
    ignore_top_level(&mut fields);
    let read = fields.nested("data", |data| {
        ignore_resource_members(data);
        data.required("type", |_| Ok(()));
        data.required("id", |_| Ok(()));
        let attributes = data.nested("attributes", read_settings);
        let role = data.nested("relationships", |relationships| relationships.optional("role", role_choice));
        patch_of(attributes.unwrap_or_default(), role.flatten())
    });
    fields.finish()?;
    Ok(present(read)?)
}
