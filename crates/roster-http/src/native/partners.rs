//! `/v1/partners`: the operator's master key creates partners and receives their admin keys once.

use axum::{
    Json,
    extract::{OriginalUri, Path, State},
    http::StatusCode,
};
use roster_core::{
    input::{Fields, present, text},
    provision::provision_partner,
    time::Timestamp,
};
use serde_json::{Value, json};

use super::{CreatedResult, JsonResult, list, wire};
use crate::{
    auth::Caller,
    extract::{JsonBody, QueryFields},
    state::AppState,
};

pub async fn create(State(state): State<AppState>, Caller(caller): Caller, JsonBody(body): JsonBody) -> CreatedResult {
    caller.require_master()?;
    let mut fields = Fields::of_body(&body)?;
    let name = fields.required("name", text(1, 200));
    fields.finish()?;
    let provisioned = provision_partner(present(name)?, Timestamp::now());
    state.store.create_partner(&provisioned).await?;
    let mut body = wire::partner(&provisioned.partner);
    let admin_keys: Vec<Value> = provisioned
        .admin_keys
        .iter()
        .map(|k| json!({"object": "api_key", "id": k.key.id, "mode": k.key.mode.as_str(), "secret": k.secret}))
        .collect();
    if let Some(object) = body.as_object_mut() {
        object.insert("admin_keys".to_owned(), Value::Array(admin_keys));
    }
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    OriginalUri(uri): OriginalUri,
    QueryFields(params): QueryFields,
) -> JsonResult {
    caller.require_master()?;
    let (query, ()) = list::parse(&params, |_| ())?;
    let page = state.store.list_partners(&query).await?;
    Ok(list::render(&uri, &query, page, wire::partner))
}

pub async fn show(State(state): State<AppState>, Caller(caller): Caller, Path(id): Path<String>) -> JsonResult {
    caller.require_master()?;
    Ok(Json(wire::partner(&state.store.get_partner(&id).await?)))
}
