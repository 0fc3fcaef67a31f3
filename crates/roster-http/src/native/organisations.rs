//! `/v1/organisations`. Organisation keys see and change only their own organisation and may not
//! create or delete organisations; a non-admin group's new organisation is assigned to it.

use axum::{
    Json,
    extract::{OriginalUri, Path, State},
    http::StatusCode,
};
use roster_core::{
    Error,
    input::{Fields, boolean, email, nullable, present, text},
    model::OrganisationSettings,
    policy::{Access, Api, OrgScope, Resource, Scope},
    store::{NewOrganisation, OrganisationPatch},
    time::Timestamp,
};

use super::{CreatedResult, EmptyResult, JsonResult, list, wire};
use crate::{
    auth::Caller,
    extract::{JsonBody, QueryFields},
    state::AppState,
};

const API: Api = Api::Scoped(Resource::Organisations);

/// Creating and deleting organisations is for partner keys, not for an organisation's own key.
fn require_partner_key(scope: &Scope) -> Result<(), Error> {
    match scope.orgs {
        OrgScope::Organisation(_) => Err(Error::Forbidden),
        OrgScope::All | OrgScope::Group(_) => Ok(()),
    }
}

fn read_settings(fields: &mut Fields<'_>) -> Option<OrganisationPatch> {
    fields.nested("settings", |settings| OrganisationPatch {
        name: None,
        enforce_twofactor: settings.optional("enforce_twofactor", boolean),
        abuse_contact_email: settings.optional("abuse_contact_email", nullable(email)),
    })
}

pub async fn create(State(state): State<AppState>, Caller(caller): Caller, JsonBody(body): JsonBody) -> CreatedResult {
    let scope = caller.scope_for(API, Access::Write)?;
    require_partner_key(&scope)?;
    let mut fields = Fields::of_body(&body)?;
    let name = fields.required("name", text(1, 200));
    let settings = read_settings(&mut fields).unwrap_or_default();
    fields.finish()?;
    let organisation = NewOrganisation {
        name: present(name)?,
        settings: OrganisationSettings {
            enforce_twofactor: settings.enforce_twofactor.unwrap_or(false),
            abuse_contact_email: settings.abuse_contact_email.flatten(),
        },
    };
    let organisation = state.store.create_organisation(&scope, organisation, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(wire::organisation(&organisation))))
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    let scope = caller.scope_for(API, Access::Read)?;
    let (query, ()) = list::parse(&params, |_| ())?;
    let page = state.store.list_organisations(&scope, &query).await?;
    Ok(list::render(&uri, &query, page, wire::organisation))
}

pub async fn show(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> JsonResult {
    let scope = caller.scope_for(API, Access::Read)?;
    Ok(Json(wire::organisation(&state.store.get_organisation(&scope, &id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let scope = caller.scope_for(API, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let name = fields.optional("name", text(1, 200));
    let settings = read_settings(&mut fields).unwrap_or_default();
    fields.finish()?;
    let patch = OrganisationPatch { name, ..settings };
    Ok(Json(wire::organisation(&state.store.update_organisation(&scope, &id, patch, Timestamp::now()).await?)))
}

pub async fn delete(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> EmptyResult {
    let scope = caller.scope_for(API, Access::Write)?;
    require_partner_key(&scope)?;
    state.store.delete_organisation(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
