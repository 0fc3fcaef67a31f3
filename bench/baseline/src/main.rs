//! `roster-bench-baseline`: the bare limit Roster's benchmarks compare against. It serves
//! `GET /v1/memberships/{id}`, `GET /v1/memberships?organisation_id=…` (by `limit` with `offset`
//! or `cursor`), `PATCH /v1/memberships/{id}` (`reference` only), `GET /v1/check` and
//! `POST /v1/memberships` over a database
//! `roster-bench-seed` filled, with the same driver, the same SQL, the same row mapping and the
//! same JSON as Roster, and nothing else: no authentication, no scope, no validation, no
//! middleware. What Roster costs on top of this is what its features cost.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod postgres;
mod sqlite;

use std::{collections::HashMap, process::ExitCode, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
};
use clap::Parser;
use roster_core::{
    model::{Membership, MembershipStatus},
    page::{Cursor, DEFAULT_LIMIT, ListPage, ListQuery, Position},
};
use roster_http::{ListBody, wire};
use serde_json::Value;

#[derive(Parser)]
#[command(name = "roster-bench-baseline", about = "The bare baseline for Roster's benchmarks")]
struct Args {
    /// A database `roster-bench-seed` filled: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

/// What a handler failed with; the baseline only ever answers 404 or 500.
enum Failure {
    NotFound,
    Database(String),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::NotFound => StatusCode::NOT_FOUND.into_response(),
            Failure::Database(message) => (StatusCode::INTERNAL_SERVER_ERROR, message).into_response(),
        }
    }
}

/// The membership a create writes: the same rows Roster's create writes, a new user and an
/// accepted STANDARD membership with default settings.
struct NewMember {
    organisation_id: String,
    email: String,
    first_name: String,
    last_name: String,
}

/// The operations, over either database.
trait Database: Send + Sync + 'static {
    fn membership(&self, id: String) -> impl Future<Output = Result<Membership, Failure>> + Send;
    /// One page of the organisation's memberships, with the count of all of them.
    fn page(
        &self,
        organisation_id: String,
        query: ListQuery,
    ) -> impl Future<Output = Result<ListPage<Membership>, Failure>> + Send;
    /// Sets the membership's `reference` and returns it as it now is; `NotFound` when missing.
    fn set_reference(
        &self,
        id: String,
        reference: Option<String>,
    ) -> impl Future<Output = Result<Membership, Failure>> + Send;
    /// The membership of `user_id` in `organisation_id` (None when none) and its roles'
    /// permissions; `NotFound` when the organisation is missing.
    fn membership_of(
        &self,
        organisation_id: String,
        user_id: String,
    ) -> impl Future<Output = Result<Option<(Membership, Vec<String>)>, Failure>> + Send;
    fn create(&self, new: NewMember) -> impl Future<Output = Result<Membership, Failure>> + Send;
}

async fn get_membership<D: Database>(
    State(db): State<Arc<D>>,
    Path(id): Path<String>,
) -> Result<Json<wire::Membership>, Failure> {
    Ok(Json(wire::membership(&db.membership(id).await?)))
}

async fn list<D: Database>(
    State(db): State<Arc<D>>,
    uri: Uri,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ListBody<wire::Membership>>, Failure> {
    let number = |name: &str| params.get(name).and_then(|value| value.parse().ok());
    let position = match params.get("cursor").and_then(|text| Cursor::decode(text)) {
        Some(cursor) => Position::After(cursor),
        None => Position::Offset(number("offset").unwrap_or(0)),
    };
    let limit = number("limit").and_then(|limit| u32::try_from(limit).ok()).unwrap_or(DEFAULT_LIMIT);
    let query = ListQuery { limit, position, ..ListQuery::default() };
    let organisation_id = params.get("organisation_id").cloned().unwrap_or_default();
    let page = db.page(organisation_id, query.clone()).await?;
    Ok(Json(roster_http::list_body(&uri, &query, page, wire::membership)))
}

async fn patch<D: Database>(
    State(db): State<Arc<D>>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<wire::Membership>, Failure> {
    let reference = body.get("reference").and_then(Value::as_str).map(str::to_owned);
    Ok(Json(wire::membership(&db.set_reference(id, reference).await?)))
}

async fn check<D: Database>(
    State(db): State<Arc<D>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<wire::Check>, Failure> {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let Some((membership, role_permissions)) = db.membership_of(param("organisation_id"), param("user_id")).await?
    else {
        return Ok(Json(wire::check(false, None)));
    };
    let granted = roster_core::permissions::effective(membership.status, &membership.settings, &role_permissions);
    let allowed = roster_core::permissions::allows(&granted, &param("permission"));
    Ok(Json(wire::check(allowed, Some(&membership.id))))
}

async fn create<D: Database>(
    State(db): State<Arc<D>>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<wire::Membership>), Failure> {
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let new = NewMember {
        organisation_id: field("organisation_id"),
        email: field("email"),
        first_name: field("first_name"),
        last_name: field("last_name"),
    };
    Ok((StatusCode::CREATED, Json(wire::membership(&db.create(new).await?))))
}

fn router<D: Database>(db: D) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/memberships/{id}", get(get_membership::<D>).patch(patch::<D>))
        .route("/v1/memberships", get(list::<D>).post(create::<D>))
        .route("/v1/check", get(check::<D>))
        .with_state(Arc::new(db))
}

async fn serve(args: Args) -> Result<(), String> {
    let app = if let Some(path) = args.database_url.strip_prefix("sqlite://") {
        router(sqlite::Sqlite::open(path).map_err(|e| e.to_string())?)
    } else {
        router(postgres::Postgres::open(&args.database_url).map_err(|e| e.to_string())?)
    };
    let listener = tokio::net::TcpListener::bind(&args.listen).await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    // The same line Roster logs, so bench/run finds either server's port the same way.
    eprintln!("serving address={address}");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roster-bench-baseline: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roster-bench-baseline: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Roster's create, given no status, writes an accepted membership.
const CREATED_STATUS: MembershipStatus = MembershipStatus::Accepted;

/// The INSERTs Roster's create runs, with the membership's default settings in one statement.
const INSERT_USER: &str = "INSERT INTO users (id, partner_id, livemode, email, email_key, first_name, last_name, \
     is_staff, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8, $8)";
const INSERT_MEMBERSHIP: &str = "INSERT INTO memberships (id, partner_id, livemode, organisation_id, user_id, role, \
     role_ids, permissions, is_owner, is_default, allowed_ips, status, api_access_enabled, access_scope, test_enabled, \
     alert_action_required, alert_resolved, alert_dismissed, evidence_requested, reference, reference_origin, \
     metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'STANDARD', '[]', '[]', false, false, '[]', $6, \
     true, 'live_access', false, true, true, true, true, NULL, NULL, '{}', $7, $7)";

/// The roles' permissions, as the stores select them: one placeholder per role id.
fn select_role_permissions(roles: usize, placeholder: impl Fn(usize) -> String) -> String {
    let list = (2..roles + 2).map(&placeholder).collect::<Vec<_>>().join(", ");
    format!("SELECT permissions FROM roles WHERE organisation_id = {} AND id IN ({list})", placeholder(1))
}

/// What a PATCH of `reference` writes. (SQLite numbers `$N` parameters in order of appearance,
/// so they appear in order.)
const SET_REFERENCE: &str = "UPDATE memberships SET reference = $1, updated_at = $2 WHERE id = $3";

/// The two statements of a page of one organisation's memberships, as Roster's list builds them:
/// the count of every match, and up to `limit + 1` rows newest first, after the cursor when
/// there is one. Bound in order: the organisation; the cursor's `created_at` and `id`; the
/// limit; the offset.
///
/// Roster's statements also name the caller's partner and mode, which lets the list index
/// (organisation, partner, mode, created_at, id) both find and order the page. The baseline has
/// no caller, so it takes them from the organisation in the same statement; without them the
/// database would sort the whole organisation for every page.
fn page_statements(query: &ListQuery, placeholder: impl Fn(usize) -> String) -> (String, String) {
    use roster_store::rows::{MEMBERSHIP_COLUMNS, MEMBERSHIP_FROM};
    let id = placeholder(1);
    let organisation = format!(
        " AND m.partner_id = (SELECT o.partner_id FROM organisations o WHERE o.id = {id}) \
         AND m.livemode = (SELECT o.livemode FROM organisations o WHERE o.id = {id}) AND m.organisation_id = {id}"
    );
    let count = format!("SELECT COUNT(*) FROM {MEMBERSHIP_FROM} WHERE TRUE{organisation}");
    let (after, next) = match query.position {
        Position::After(_) => (format!(" AND (m.created_at, m.id) < ({}, {})", placeholder(2), placeholder(3)), 4),
        Position::Offset(_) | Position::StartingAfter(_) => (String::new(), 2),
    };
    let select = format!(
        "SELECT {MEMBERSHIP_COLUMNS} FROM {MEMBERSHIP_FROM} WHERE TRUE{organisation}{after} \
         ORDER BY m.created_at DESC, m.id DESC LIMIT {} OFFSET {}",
        placeholder(next),
        placeholder(next + 1)
    );
    (count, select)
}

/// The offset a page query binds (0 after a cursor) and the rows it fetches (one more than the
/// limit, telling whether more follow).
fn offset_and_overfetch(query: &ListQuery) -> (i64, i64) {
    let offset = match query.position {
        Position::Offset(offset) => i64::try_from(offset).unwrap_or(i64::MAX),
        Position::After(_) | Position::StartingAfter(_) => 0,
    };
    (offset, i64::from(query.limit) + 1)
}
