//! `/v1/users`. Users belong to the partner; a non-admin group or an organisation key sees those
//! with a membership in its organisations.

use axum::{
    Json,
    extract::{OriginalUri, Path, State},
    http::StatusCode,
};
use roster_core::{
    input::{Fields, boolean, email, present, text},
    policy::{Access, Api, Resource},
    store::{NewUser, UserPatch},
    time::Timestamp,
};

use super::{CreatedResult, JsonResult, list, wire};
use crate::{
    auth::Caller,
    extract::{JsonBody, QueryFields},
    state::AppState,
};

const API: Api = Api::Scoped(Resource::Users);

pub async fn create(State(state): State<AppState>, Caller(caller): Caller, JsonBody(body): JsonBody) -> CreatedResult {
    let scope = caller.scope_for(API, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let email = fields.required("email", email);
    let first_name = fields.required("first_name", text(1, 100));
    let last_name = fields.required("last_name", text(1, 100));
    let is_staff = fields.optional("is_staff", boolean);
    fields.finish()?;
    let user = NewUser {
        email: present(email)?,
        first_name: present(first_name)?,
        last_name: present(last_name)?,
        is_staff: is_staff.unwrap_or(false),
    };
    let user = state.store.create_user(&scope, user, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(wire::user(&user))))
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    let scope = caller.scope_for(API, Access::Read)?;
    let (query, email) =
        list::parse(&params, |fields| fields.optional("email", text(1, roster_core::input::MAX_EMAIL_LEN)))?;
    let page = state.store.list_users(&scope, email.as_deref(), &query).await?;
    Ok(list::render(&uri, &query, page, wire::user))
}

pub async fn show(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> JsonResult {
    let scope = caller.scope_for(API, Access::Read)?;
    Ok(Json(wire::user(&state.store.get_user(&scope, &id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let scope = caller.scope_for(API, Access::Write)?;
    let mut fields = Fields::of_body(&body)?;
    let patch = UserPatch {
        email: fields.optional("email", email),
        first_name: fields.optional("first_name", text(1, 100)),
        last_name: fields.optional("last_name", text(1, 100)),
        is_staff: fields.optional("is_staff", boolean),
    };
    fields.finish()?;
    Ok(Json(wire::user(&state.store.update_user(&scope, &id, patch, Timestamp::now()).await?)))
}
