//! The console's pages and forms. Each handler reads what it was sent, calls one operation as
//! the session's key (or, for a page, the few reads it shows), and renders; a form that failed
//! shows its page again with the reason, and one that worked redirects (303) to the page that
//! shows its outcome, so reloading never sends it twice (all but a new key's, which answers
//! with its secret: shown once, it is kept nowhere to redirect to).

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use roster_app::{api_keys, console, events, memberships, organisations, roles, webhooks};
use roster_core::{
    Error,
    input::{Fields, MAX_EMAIL_LEN, choice, is_id, text},
    model::{KeyHolder, Membership, MembershipRole, MembershipStatus, Mode, Organisation},
    page::{Cursor, ListPage, ListQuery, Listed, MAX_LIMIT, Position},
    policy::{Ability, Access, Holder, Principal},
    store::{MembershipFilter, NAMES_LOOKED_THROUGH},
};
use serde_json::Value;

use super::{
    request::{
        Posted, SESSION_COOKIE, SIGN_IN_COOKIE, Session, SignInPosted, over_tls, set_cookie, sign_in_token, to_sign_in,
    },
    view::{self, Notice, Section, answer, csrf_field, page, when},
};
use crate::{native, state::AppState};

/// Rows on one page of a console list.
const PAGE_ROWS: u32 = 50;

type Params = Query<HashMap<String, String>>;

/// What a redirect's `done` names, in words.
fn done(params: &HashMap<String, String>) -> Option<Notice> {
    let text = match params.get("done")?.as_str() {
        "created" => "Organisation created.",
        "renamed" => "Organisation renamed.",
        "invited" => "Invitation created. Roster sends no e-mail: tell them, or let your product do it.",
        "changed" => "Membership changed.",
        "removed" => "Member removed.",
        "revoked" => "Key revoked.",
        _ => return None,
    };
    Some(Notice::Done(text))
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A page of `PAGE_ROWS` after the cursor in `after`, if any; a cursor that does not read is
/// the first page.
fn page_query(params: &HashMap<String, String>) -> ListQuery {
    let position =
        params.get("after").and_then(|text| Cursor::decode(text)).map_or(Position::Offset(0), Position::After);
    ListQuery { limit: PAGE_ROWS, position, ..ListQuery::default() }
}

/// `path` with the query parameters `keep` (the filters) that are not empty.
fn filtered_path(path: &str, keep: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in keep.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(name, value);
    }
    let query = query.finish();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

/// The link to the page after `page`, keeping `keep` (the filters).
fn next_link<T: Listed>(path: &str, page: &ListPage<T>, keep: &[(&str, &str)]) -> Option<String> {
    let last = page.items.last().filter(|_| page.has_more)?;
    let after = last.position().encode();
    let mut keep = keep.to_vec();
    keep.push(("after", &after));
    Some(filtered_path(path, &keep))
}

fn paging(first: &str, next: Option<String>, on_first: bool) -> Markup {
    html! {
        nav.paging aria-label="Pages" {
            @if !on_first { a href=(first) { "First page" } }
            @if let Some(next) = next { a href=(next) rel="next" { "Next page" } }
        }
    }
}

fn failed(session: &Session, section: Section, error: &Error) -> Response {
    match error {
        Error::Unauthorised => to_sign_in(),
        _ => {
            answer(view::status_of(error), page(session, section, "Roster console", Some(&Notice::of(error)), html! {}))
        }
    }
}

/// Reads `id` from a path; one that cannot be an id is not found, as a missing one is.
fn checked_id(id: &str) -> Result<&str, Error> {
    if is_id(id) { Ok(id) } else { Err(Error::NotFound) }
}

pub(crate) async fn home(_session: Session) -> Response {
    see_other("/console/organisations")
}

// Signing in and out.

fn sign_in_markup(csrf: &str, notice: Option<&Notice>) -> Markup {
    view::bare_page(
        "Sign in to Roster",
        html! {
            @if let Some(notice) = notice { (view::notice_markup(notice)) }
            p { "Sign in with a secret key: a partner group's key or an organisation's. The console can do
                 exactly what the key can do through the API." }
            form.stack method="post" action="/console/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="secret" { "Secret key" }
                input id="secret" name="secret" type="password" autocomplete="off" required
                    spellcheck="false" placeholder="sk_live_…";
                button type="submit" { "Sign in" }
            }
        },
    )
}

pub(crate) async fn sign_in_form(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let token = sign_in_token();
    let mut response = answer(StatusCode::OK, sign_in_markup(&token, None));
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(over_tls(&parts, &state), SIGN_IN_COOKIE, &token, 3600));
    response
}

pub(crate) async fn sign_in(State(state): State<AppState>, posted: SignInPosted) -> Response {
    let SignInPosted { over_tls, form, previous } = posted;
    let secret = form.get("secret").unwrap_or_default().trim();
    match console::sign_in(&state.app, secret).await {
        Ok(token) => {
            // The browser's earlier session, if any, ends: its cookie is replaced.
            if let Some(previous) = previous
                && let Err(error) = console::sign_out(&state.app, &previous).await
            {
                tracing::warn!(%error, "could not end the session a new sign-in replaces");
            }
            let mut response = see_other("/console/organisations");
            let headers = response.headers_mut();
            let lifetime = console::SESSION_LIFETIME_MILLIS / 1000;
            headers.append(header::SET_COOKIE, set_cookie(over_tls, SESSION_COOKIE, &token.0, lifetime));
            headers.append(header::SET_COOKIE, set_cookie(over_tls, SIGN_IN_COOKIE, "", 0));
            response
        }
        Err(error) => {
            let csrf = form.get("csrf").unwrap_or_default();
            answer(view::status_of(&error), sign_in_markup(csrf, Some(&Notice::of(&error))))
        }
    }
}

pub(crate) async fn sign_out(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { session, .. } = posted;
    if let Err(error) = console::sign_out(&state.app, &session.token).await {
        return view::failure_page(&error);
    }
    let mut response = see_other("/console/sign-in");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(session.over_tls, SESSION_COOKIE, "", 0));
    response
}

fn add_key_markup(session: &Session, mode: Mode, notice: Option<&Notice>) -> Markup {
    let label = match mode {
        Mode::Live => "live",
        Mode::Test => "test",
    };
    page(
        session,
        Section::Organisations,
        &format!("Sign in to {label} mode"),
        notice,
        html! {
            p { "This session holds no " (label) " key. Sign in with a " (label)
                " secret key of the same partner to switch; the other key stays signed in." }
            form.stack method="post" action="/console/add-key" {
                (csrf_field(session))
                label for="secret" { "Secret key" }
                input id="secret" name="secret" type="password" autocomplete="off" required spellcheck="false";
                button type="submit" { "Sign in and switch" }
            }
        },
    )
}

pub(crate) async fn switch_mode(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    let mode = match form.get("mode") {
        Some("live") => Mode::Live,
        Some("test") => Mode::Test,
        _ => return view::message_page(StatusCode::BAD_REQUEST, "Choose live or test mode."),
    };
    match console::switch_mode(&state.app, &session.token, mode).await {
        Ok(true) => see_other("/console/organisations"),
        Ok(false) => answer(StatusCode::OK, add_key_markup(&session, mode, None)),
        Err(error) => failed(&session, Section::Organisations, &error),
    }
}

pub(crate) async fn add_key(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    let secret = form.get("secret").unwrap_or_default().trim();
    match console::add_key(&state.app, &session.token, secret).await {
        Ok(()) => see_other("/console/organisations"),
        Err(error) => {
            let other = match session.signed.session.mode {
                Mode::Live => Mode::Test,
                Mode::Test => Mode::Live,
            };
            let notice = Notice::Failed(vec![
                "That key cannot be added: use a secret key of the other mode, of the same partner.".to_owned(),
            ]);
            answer(view::status_of(&error), add_key_markup(&session, other, Some(&notice)))
        }
    }
}

// Organisations.

/// The organisations a page shows: a page of all of them newest first, or the first of those
/// whose names start with what was searched, in name order.
enum Shown {
    Page(ListQuery, ListPage<Organisation>),
    Found { prefix: String, organisations: Vec<Organisation>, more: bool },
}

/// The query parameters `names` a page was given, trimmed, as a JSON object of strings for the
/// API's readers; an empty one is left out, as a client leaves out what it does not ask for.
fn given(params: &HashMap<String, String>, names: &[&str]) -> serde_json::Map<String, Value> {
    names
        .iter()
        .filter_map(|name| {
            let value = params.get(*name).map(|value| value.trim()).filter(|value| !value.is_empty())?;
            Some(((*name).to_owned(), Value::String(value.to_owned())))
        })
        .collect()
}

/// The search a page asks for (`name`, its start), read as the API reads a name.
fn searched(params: &HashMap<String, String>) -> Result<Option<String>, Error> {
    let given = given(params, &["name"]);
    let mut fields = Fields::new(&given);
    let name = fields.optional("name", text(1, 200));
    fields.finish()?;
    Ok(name)
}

async fn organisations_page(
    state: &AppState,
    session: &Session,
    params: &HashMap<String, String>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let shown = match searched(params) {
        Ok(Some(prefix)) => {
            organisations::search(&state.app, &session.caller, &prefix, PAGE_ROWS + 1).await.map(|mut organisations| {
                let more = organisations.len() > PAGE_ROWS as usize;
                organisations.truncate(PAGE_ROWS as usize);
                Shown::Found { prefix, organisations, more }
            })
        }
        Ok(None) => {
            let query = page_query(params);
            organisations::list(&state.app, &session.caller, &query).await.map(|listed| Shown::Page(query, listed))
        }
        Err(error) => Err(error),
    };
    let shown = match shown {
        Ok(shown) => shown,
        Err(error) => return failed(session, Section::Organisations, &error),
    };
    let (organisations, searched_for) = match &shown {
        Shown::Page(_, listed) => (&listed.items, ""),
        Shown::Found { prefix, organisations, .. } => (organisations, prefix.as_str()),
    };
    let may_create = organisations::authorise(&session.caller, Access::Write, true).is_ok();
    let content = html! {
        form.row method="get" action="/console/organisations" role="search" {
            label { "Find by the start of its name" input name="name" type="search" value=(searched_for) maxlength="200"; }
            button type="submit" { "Find" }
        }
        @if organisations.is_empty() {
            p.muted { @if searched_for.is_empty() { "No organisations yet." } @else { "No organisation's name starts with that." } }
        } @else {
            table {
                caption.skip { "Organisations" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Id" } th scope="col" { "Created" } } }
                tbody {
                    @for organisation in organisations {
                        tr {
                            td { a href={"/console/organisations/" (organisation.id)} { (organisation.name) } }
                            td { code { (organisation.id) } }
                            td { (when(organisation.created_at)) }
                        }
                    }
                }
            }
        }
        @match &shown {
            Shown::Page(query, listed) => {
                (paging("/console/organisations", next_link("/console/organisations", listed, &[]), matches!(query.position, Position::Offset(0))))
            }
            Shown::Found { more, .. } => {
                @if *more { p.muted { "More names start with that: type more of the name." } }
                p { a href="/console/organisations" { "All organisations" } }
            }
        }
        @if may_create {
            h2 { "New organisation" }
            form.row method="post" action="/console/organisations" {
                (csrf_field(session))
                label { "Name" input name="name" required maxlength="200"; }
                button type="submit" { "Create organisation" }
            }
        }
    };
    answer(
        status,
        page(session, Section::Organisations, "Organisations", notice.or_else(|| done(params)).as_ref(), content),
    )
}

pub(crate) async fn organisations(State(state): State<AppState>, session: Session, Query(params): Params) -> Response {
    organisations_page(&state, &session, &params, None, StatusCode::OK).await
}

pub(crate) async fn create_organisation(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    // Whether the key may at all comes first, as in the API: a key that may not learns nothing
    // from validation.
    let new = organisations::authorise(&session.caller, Access::Write, true)
        .and_then(|()| native::organisations::read_new_organisation(&Value::Object(form.json(&["name"]))));
    let created = match new {
        Ok(new) => organisations::create(&state.app, &session.caller, new).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(organisation) => see_other(&format!("/console/organisations/{}?done=created", organisation.id)),
        Err(error) => {
            let status = view::status_of(&error);
            organisations_page(&state, &session, &HashMap::new(), Some(Notice::of(&error)), status).await
        }
    }
}

/// The members filter a page asks for: e-mail (exact, any case), role, status; each read as
/// `GET /v1/memberships` reads it, an empty one left out.
#[derive(Default)]
struct MemberFilters {
    email: String,
    /// The start of the person's name: found in name order, the first fifty.
    name: String,
    role: Option<MembershipRole>,
    status: Option<MembershipStatus>,
}

impl MemberFilters {
    fn of(params: &HashMap<String, String>) -> Result<Self, Error> {
        let given = given(params, &["email", "name", "role", "status"]);
        let mut fields = Fields::new(&given);
        let email = fields.optional("email", text(1, MAX_EMAIL_LEN));
        let name = fields.optional("name", text(1, 201));
        let role = fields.optional("role", choice(MembershipRole::CHOICES, MembershipRole::parse));
        let status = fields.optional("status", choice(MembershipStatus::CHOICES, MembershipStatus::parse));
        fields.finish()?;
        Ok(Self { email: email.unwrap_or_default(), name: name.unwrap_or_default(), role, status })
    }

    fn filter(&self, organisation_id: &str) -> MembershipFilter {
        MembershipFilter {
            organisation_ids: Some(vec![organisation_id.to_owned()]),
            email: (!self.email.is_empty()).then(|| self.email.clone()),
            roles: self.role.map(|role| vec![role]),
            statuses: self.status.map(|status| vec![status]),
            ..MembershipFilter::default()
        }
    }

    /// The filter as query parameters, for the links that page it.
    fn kept(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("email", self.email.as_str()),
            ("name", self.name.as_str()),
            ("role", self.role.map(MembershipRole::as_str).unwrap_or_default()),
            ("status", self.status.map(MembershipStatus::as_str).unwrap_or_default()),
        ]
    }
}

/// The members a page shows: a page of them newest first (found by e-mail, role and status),
/// or, when a name was searched (and no e-mail), the first of those whose names start with it.
enum MembersShown {
    Page(ListPage<Membership>),
    Named { members: Vec<Membership>, more: bool },
}

impl MembersShown {
    fn members(&self) -> &[Membership] {
        match self {
            Self::Page(listed) => &listed.items,
            Self::Named { members, .. } => members,
        }
    }
}

async fn members_shown(
    state: &AppState,
    session: &Session,
    organisation_id: &str,
    filters: &MemberFilters,
    query: &ListQuery,
) -> Result<MembersShown, Error> {
    let filter = filters.filter(organisation_id);
    if filters.name.is_empty() || !filters.email.is_empty() {
        return memberships::list(&state.app, &session.caller, &filter, query).await.map(MembersShown::Page);
    }
    let rows = PAGE_ROWS + 1;
    let mut members =
        memberships::search_by_name(&state.app, &session.caller, organisation_id, &filters.name, &filter, rows).await?;
    let more = members.len() > PAGE_ROWS as usize;
    members.truncate(PAGE_ROWS as usize);
    Ok(MembersShown::Named { members, more })
}

fn role_options(selected: Option<MembershipRole>, any: bool) -> Markup {
    html! {
        @if any { option value="" selected[selected.is_none()] { "Any role" } }
        @for role in [MembershipRole::Admin, MembershipRole::Standard] {
            option value=(role.as_str()) selected[selected == Some(role)] { (role_label(role)) }
        }
    }
}

fn role_label(role: MembershipRole) -> &'static str {
    match role {
        MembershipRole::Admin => "Admin",
        MembershipRole::Standard => "Standard",
    }
}

async fn organisation_page(
    state: &AppState,
    session: &Session,
    id: &str,
    params: &HashMap<String, String>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let organisation = match checked_id(id) {
        Ok(id) => organisations::get(&state.app, &session.caller, id).await,
        Err(error) => Err(error),
    };
    let organisation: Organisation = match organisation {
        Ok(organisation) => organisation,
        Err(error) => return failed(session, Section::Organisations, &error),
    };
    let query = page_query(params);
    let (filters, members) = match MemberFilters::of(params) {
        Ok(filters) => {
            let members = members_shown(state, session, &organisation.id, &filters, &query).await;
            (filters, members)
        }
        Err(error) => (MemberFilters::default(), Err(error)),
    };
    let status = match (&members, status) {
        (Err(error), StatusCode::OK) => view::status_of(error),
        _ => status,
    };
    let path = format!("/console/organisations/{}", organisation.id);
    let kept = filters.kept();
    let first = filtered_path(&path, &kept);
    let may_rename = organisations::authorise(&session.caller, Access::Write, false).is_ok();
    let may_invite = memberships::authorise(&session.caller, Access::Write).is_ok();
    let content = html! {
        dl.facts {
            dt { "Id" } dd { code { (organisation.id) } }
            dt { "Created" } dd { (when(organisation.created_at)) }
        }
        @if may_rename {
            form.row method="post" action=(path) {
                (csrf_field(session))
                label { "Name" input name="name" required maxlength="200" value=(organisation.name); }
                button type="submit" { "Rename" }
            }
        }
        h2 { "Members" }
        form.row method="get" action=(path) role="search" {
            label { "E-mail" input name="email" type="email" value=(filters.email); }
            label { "Name starts with" input name="name" type="search" maxlength="201" value=(filters.name); }
            label { "Role" select name="role" { (role_options(filters.role, true)) } }
            label { "Status"
                select name="status" {
                    option value="" selected[filters.status.is_none()] { "Any status" }
                    @for choice in [MembershipStatus::Accepted, MembershipStatus::Pending, MembershipStatus::Rejected] {
                        option value=(choice.as_str()) selected[filters.status == Some(choice)] { (choice.as_str()) }
                    }
                }
            }
            button type="submit" { "Find" }
        }
        @match &members {
            Ok(shown) => {
                @let members = shown.members();
                @match shown {
                    MembersShown::Page(listed) => { p.muted { (listed.count) " matching" } }
                    MembersShown::Named { .. } => {
                        p.muted { "By name, in name order, among the first " (NAMES_LOOKED_THROUGH) " people whose names start with that." }
                    }
                }
                @if !members.is_empty() {
                    table.members {
                        caption.skip { "Members" }
                        thead { tr { th scope="col" { "E-mail" } th scope="col" { "Name" } th scope="col" { "Role" }
                                     th scope="col" { "Status" } th scope="col" { "Owner" } } }
                        tbody {
                            @for member in members {
                                tr {
                                    td { a href={"/console/memberships/" (member.id)} { (member.email) } }
                                    td { (member.user_full_name().unwrap_or_default()) }
                                    td { (role_label(member.settings.role)) }
                                    td { (member.status.as_str()) }
                                    td { @if member.settings.is_owner { "Owner" } }
                                }
                            }
                        }
                    }
                }
                @match shown {
                    MembersShown::Page(listed) => {
                        (paging(&first, next_link(&path, listed, &kept), matches!(query.position, Position::Offset(0))))
                    }
                    MembersShown::Named { more: true, .. } => {
                        p.muted { "More names start with that: type more of the name." }
                    }
                    MembersShown::Named { .. } => {}
                }
            }
            Err(error) => { (view::notice_markup(&Notice::of(error))) }
        }
        @if may_invite {
            h2 { "Invite someone" }
            form.stack method="post" action={(path) "/members"} {
                (csrf_field(session))
                label { "E-mail" input name="email" type="email" required maxlength="254" autocomplete="off"; }
                label { "First name" input name="first_name" required maxlength="100"; }
                label { "Last name" input name="last_name" required maxlength="100"; }
                label { "Role" select name="role" { (role_options(Some(MembershipRole::Standard), false)) } }
                button type="submit" { "Invite" }
            }
        }
    };
    let title = organisation.name.clone();
    answer(status, page(session, Section::Organisations, &title, notice.or_else(|| done(params)).as_ref(), content))
}

pub(crate) async fn organisation(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    organisation_page(&state, &session, &id, &params, None, StatusCode::OK).await
}

pub(crate) async fn rename_organisation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { session, form } = posted;
    let patch = organisations::authorise(&session.caller, Access::Write, false)
        .and_then(|()| native::organisations::read_organisation_patch(&Value::Object(form.json(&["name"]))));
    let renamed = match (checked_id(&id), patch) {
        (Ok(id), Ok(patch)) => organisations::update(&state.app, &session.caller, id, patch).await,
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    match renamed {
        Ok(organisation) => see_other(&format!("/console/organisations/{}?done=renamed", organisation.id)),
        Err(error) => {
            let status = view::status_of(&error);
            organisation_page(&state, &session, &id, &HashMap::new(), Some(Notice::of(&error)), status).await
        }
    }
}

pub(crate) async fn invite(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    let mut body = form.json(&["email", "first_name", "last_name", "role"]);
    body.insert("organisation_id".to_owned(), Value::String(id.clone()));
    body.insert("status".to_owned(), Value::String("pending".to_owned()));
    let new = memberships::authorise(&session.caller, Access::Write)
        .and_then(|()| native::memberships::read_new_membership(&Value::Object(body)));
    let invited = match new {
        Ok(new) => memberships::create(&state.app, &session.caller, new).await,
        Err(error) => Err(error),
    };
    match invited {
        Ok(membership) => see_other(&format!("/console/organisations/{}?done=invited", membership.organisation_id)),
        Err(error) => {
            let status = view::status_of(&error);
            organisation_page(&state, &session, &id, &HashMap::new(), Some(Notice::of(&error)), status).await
        }
    }
}

// Memberships.

async fn membership_page(
    state: &AppState,
    session: &Session,
    id: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let membership = match checked_id(id) {
        Ok(id) => memberships::get(&state.app, &session.caller, id).await,
        Err(error) => Err(error),
    };
    let membership: Membership = match membership {
        Ok(membership) => membership,
        Err(error) => return failed(session, Section::Organisations, &error),
    };
    // The custom-role boxes replace the membership's roles when saved, so they are shown only
    // when every role of the organisation could be read; otherwise its roles are left alone.
    let all_roles = ListQuery { limit: MAX_LIMIT, ..ListQuery::default() };
    let roles = roles::list(&state.app, &session.caller, Some(&membership.organisation_id), &all_roles).await;
    let custom_roles =
        view::unless_failed(roles).map(|page| page.stored).filter(|stored| !stored.has_more).map(|stored| stored.items);
    let recent = ListQuery { limit: 20, ..ListQuery::default() };
    let history =
        view::unless_failed(events::membership_versions(&state.app, &session.caller, &membership.id, &recent).await);
    let may_change = memberships::authorise(&session.caller, Access::Write).is_ok();
    let path = format!("/console/memberships/{}", membership.id);
    let settings = &membership.settings;
    let content = html! {
        p { a href={"/console/organisations/" (membership.organisation_id)} { "← " (membership.organisation_name) } }
        dl.facts {
            dt { "Name" } dd { (membership.user_full_name().unwrap_or_default()) }
            dt { "Status" } dd { (membership.status.as_str()) }
            dt { "Role" } dd { (role_label(settings.role)) }
            dt { "Owner" } dd { @if settings.is_owner { "Yes" } @else { "No" } }
            dt { "Permissions" } dd { (settings.permissions.join(", ")) }
            dt { "Id" } dd { code { (membership.id) } }
            dt { "Since" } dd { (when(membership.created_at)) }
        }
        @if may_change {
            h2 { "Change" }
            form.stack method="post" action=(path) {
                (csrf_field(session))
                label { "Role" select name="role" { (role_options(Some(settings.role), false)) } }
                label { "Owner"
                    select name="is_owner" {
                        option value="false" selected[!settings.is_owner] { "No" }
                        option value="true" selected[settings.is_owner] { "Yes" }
                    }
                }
                label { "Permissions (comma-separated, e.g. invoices:read)"
                    textarea name="permissions" rows="2" { (settings.permissions.join(", ")) }
                }
                @if let Some(custom_roles) = &custom_roles {
                    input type="hidden" name="custom_roles_shown" value="1";
                    @if !custom_roles.is_empty() {
                        fieldset {
                            legend { "Custom roles" }
                            @for role in custom_roles {
                                label {
                                    input type="checkbox" name="role_ids" value=(role.id) checked[settings.role_ids.contains(&role.id)];
                                    (role.name)
                                }
                            }
                        }
                    }
                } @else if !settings.role_ids.is_empty() {
                    p.muted { "Custom roles: " (settings.role_ids.join(", ")) " (this key cannot read them all, so they are left as they are)." }
                }
                button type="submit" { "Save changes" }
            }
            h2 { "Remove" }
            form method="post" action={(path) "/remove"} {
                (csrf_field(session))
                button.danger type="submit" { "Remove from " (membership.organisation_name) }
            }
        }
        @if let Some(history) = history {
            h2 { "History" }
            @if history.items.is_empty() {
                p.muted { "No recorded changes." }
            } @else {
                table {
                    caption.skip { "History" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "By" } th scope="col" { "Changed" } } }
                    tbody {
                        @for event in &history.items {
                            tr {
                                td { (when(event.created_at)) }
                                td { (event.kind) }
                                td { (event.actor.kind.as_str()) " " (event.actor.key_prefix.clone().or_else(|| event.actor.id.clone()).unwrap_or_default()) }
                                td { (changed_fields(event.previous_attributes.as_ref())) }
                            }
                        }
                    }
                }
            }
        }
    };
    let title = membership.email.clone();
    answer(status, page(session, Section::Organisations, &title, notice.as_ref(), content))
}

fn changed_fields(previous: Option<&Value>) -> String {
    previous
        .and_then(Value::as_object)
        .map(|fields| fields.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

pub(crate) async fn membership(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    membership_page(&state, &session, &id, done(&params), StatusCode::OK).await
}

/// The form's permissions: separated by commas or lines.
fn permissions_of(text: &str) -> Value {
    Value::Array(
        text.split([',', '\n'])
            .map(str::trim)
            .filter(|permission| !permission.is_empty())
            .map(|permission| Value::String(permission.to_owned()))
            .collect(),
    )
}

pub(crate) async fn change_membership(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { session, form } = posted;
    let mut body = form.json(&["role"]);
    match form.get("is_owner") {
        Some("true") => body.insert("is_owner".to_owned(), Value::Bool(true)),
        Some("false") => body.insert("is_owner".to_owned(), Value::Bool(false)),
        Some(other) => body.insert("is_owner".to_owned(), Value::String(other.to_owned())),
        None => None,
    };
    if let Some(permissions) = form.get("permissions") {
        body.insert("permissions".to_owned(), permissions_of(permissions));
    }
    if form.get("custom_roles_shown").is_some() {
        let role_ids = form.all("role_ids").into_iter().map(|id| Value::String(id.to_owned())).collect();
        body.insert("role_ids".to_owned(), Value::Array(role_ids));
    }
    let patch = memberships::authorise(&session.caller, Access::Write)
        .and_then(|()| native::memberships::read_membership_patch(&Value::Object(body)));
    let changed = match (checked_id(&id), patch) {
        (Ok(id), Ok(patch)) => memberships::update(&state.app, &session.caller, id, patch).await,
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    match changed {
        Ok(membership) => see_other(&format!("/console/memberships/{}?done=changed", membership.id)),
        Err(error) => membership_page(&state, &session, &id, Some(Notice::of(&error)), view::status_of(&error)).await,
    }
}

pub(crate) async fn remove_membership(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { session, .. } = posted;
    let removed = match checked_id(&id) {
        Ok(id) => match memberships::get(&state.app, &session.caller, id).await {
            Ok(membership) => memberships::delete(&state.app, &session.caller, id).await.map(|()| membership),
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    match removed {
        Ok(membership) => see_other(&format!("/console/organisations/{}?done=removed", membership.organisation_id)),
        Err(Error::NotFound) => failed(&session, Section::Organisations, &Error::NotFound),
        Err(error) => membership_page(&state, &session, &id, Some(Notice::of(&error)), view::status_of(&error)).await,
    }
}

// Roles.

pub(crate) async fn roles(State(state): State<AppState>, session: Session, Query(params): Params) -> Response {
    let query = page_query(&params);
    let listed = match roles::list(&state.app, &session.caller, None, &query).await {
        Ok(listed) => listed,
        Err(error) => return failed(&session, Section::Roles, &error),
    };
    let next = next_link("/console/roles", &listed.stored, &[]);
    let content = html! {
        h2 { "Built in" }
        table {
            caption.skip { "Built-in roles" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Permissions" } } }
            tbody { @for role in &listed.builtins { tr { td { (role.name) } td { (role.permissions.join(", ")) } } } }
        }
        h2 { "Custom" }
        @if listed.stored.items.is_empty() {
            p.muted { "No custom roles." }
        } @else {
            table {
                caption.skip { "Custom roles" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Organisation" } th scope="col" { "Permissions" } } }
                tbody {
                    @for role in &listed.stored.items {
                        tr {
                            td { (role.name) }
                            td { a href={"/console/organisations/" (role.organisation_id)} { code { (role.organisation_id) } } }
                            td { (role.permissions.join(", ")) }
                        }
                    }
                }
            }
            (paging("/console/roles", next, matches!(query.position, Position::Offset(0))))
        }
    };
    answer(StatusCode::OK, page(&session, Section::Roles, "Roles", None, content))
}

// API keys.

fn holder_text(holder: &KeyHolder) -> Markup {
    match holder {
        KeyHolder::Group(id) => html! { "group " code { (id) } },
        KeyHolder::Organisation(id) => {
            html! { "organisation " a href={"/console/organisations/" (id)} { code { (id) } } }
        }
        KeyHolder::User(id) => html! { "user " code { (id) } },
    }
}

async fn keys_page(
    state: &AppState,
    session: &Session,
    params: &HashMap<String, String>,
    notice: Option<Notice>,
    created: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let query = page_query(params);
    let listed = match api_keys::list(&state.app, &session.caller, &query).await {
        Ok(listed) => listed,
        Err(error) => return failed(session, Section::Keys, &error),
    };
    let may_create = api_keys::authorise(&session.caller, Access::Write).is_ok();
    let next = next_link("/console/keys", &listed, &[]);
    let content = html! {
        @if let Some((name, secret)) = created {
            div.secret role="status" {
                p { "Key " strong { (name) } " created. Copy its secret now: it is not shown again." }
                p { code id="new-secret" { (secret) } }
                button.quiet type="button" data-copy="new-secret" { "Copy secret" }
            }
        }
        table {
            caption.skip { "API keys" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Type" } th scope="col" { "Holder" }
                         th scope="col" { "Abilities" } th scope="col" { "State" } th scope="col" { span.skip { "Actions" } } } }
            tbody {
                @for key in &listed.items {
                    tr {
                        td { (key.name) }
                        td { code { (key.prefix) "…" } }
                        td { (key.key_type.as_str()) }
                        td { (holder_text(&key.holder)) }
                        td { (key.abilities.iter().map(|ability| ability.to_wire()).collect::<Vec<_>>().join(", ")) }
                        td { @if let Some(at) = key.revoked_at { "Revoked " (when(at)) } @else { "Active" } }
                        td {
                            @if may_create && key.revoked_at.is_none() {
                                form.inline method="post" action={"/console/keys/" (key.id) "/revoke"} {
                                    (csrf_field(session))
                                    button.danger type="submit" aria-label={"Revoke " (key.name)} { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        (paging("/console/keys", next, matches!(query.position, Position::Offset(0))))
        @if may_create {
            h2 { "New key" }
            form.stack method="post" action="/console/keys" {
                (csrf_field(session))
                label { "Name" input name="name" required maxlength="100"; }
                label { "Type"
                    select name="type" {
                        option value="secret" { "Secret (server side)" }
                        option value="publishable" { "Publishable (browser)" }
                    }
                }
                label { "Held by organisation (id; empty: this key's own holder)"
                    input name="organisation_id" spellcheck="false";
                }
                fieldset {
                    legend { "Abilities: what the new key may do (no more than this key may)" }
                    @for ability in Ability::choices() {
                        label { input type="checkbox" name="abilities" value=(ability); code { (ability) } }
                    }
                }
                button type="submit" { "Create key" }
            }
        }
    };
    answer(status, page(session, Section::Keys, "API keys", notice.or_else(|| done(params)).as_ref(), content))
}

pub(crate) async fn keys(State(state): State<AppState>, session: Session, Query(params): Params) -> Response {
    keys_page(&state, &session, &params, None, None, StatusCode::OK).await
}

pub(crate) async fn create_key(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    let mut body = form.json(&["name", "type", "organisation_id"]);
    if !body.contains_key("organisation_id") {
        let own = match &session.caller.principal {
            Principal::Key(key) => match &key.holder {
                Holder::Group { id, .. } => Some(("partner_group_id", id.clone())),
                Holder::Organisation { id } => Some(("organisation_id", id.clone())),
            },
            _ => None,
        };
        if let Some((field, id)) = own {
            body.insert(field.to_owned(), Value::String(id));
        }
    }
    let abilities = form.all("abilities").into_iter().map(|ability| Value::String(ability.to_owned())).collect();
    body.insert("abilities".to_owned(), Value::Array(abilities));
    let new = api_keys::authorise(&session.caller, Access::Write)
        .and_then(|()| native::api_keys::read_new_key(&Value::Object(body), state.app.now()));
    let created = match new {
        Ok(new) => api_keys::create(&state.app, &session.caller, new).await,
        Err(error) => Err(error),
    };
    match created {
        Ok((key, secret)) => {
            keys_page(&state, &session, &HashMap::new(), None, Some((key.name, secret)), StatusCode::CREATED).await
        }
        Err(error) => {
            let status = view::status_of(&error);
            keys_page(&state, &session, &HashMap::new(), Some(Notice::of(&error)), None, status).await
        }
    }
}

pub(crate) async fn revoke_key(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Response {
    let Posted { session, .. } = posted;
    let revoked = match checked_id(&id) {
        Ok(id) => api_keys::revoke(&state.app, &session.caller, id).await,
        Err(error) => Err(error),
    };
    match revoked {
        Ok(()) => see_other("/console/keys?done=revoked"),
        Err(error) => {
            let status = view::status_of(&error);
            keys_page(&state, &session, &HashMap::new(), Some(Notice::of(&error)), None, status).await
        }
    }
}

// Events and webhooks.

pub(crate) async fn events(State(state): State<AppState>, session: Session, Query(params): Params) -> Response {
    let query = page_query(&params);
    let listed = match events::list(&state.app, &session.caller, events::EventQuery::default(), &query).await {
        Ok(listed) => listed,
        Err(error) => return failed(&session, Section::Events, &error),
    };
    let next = next_link("/console/events", &listed, &[]);
    let content = html! {
        @if listed.items.is_empty() {
            p.muted { "No events yet." }
        } @else {
            table {
                caption.skip { "Events" }
                thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Object" } th scope="col" { "By" } th scope="col" { "Changed" } } }
                tbody {
                    @for event in &listed.items {
                        tr {
                            td { (when(event.created_at)) }
                            td { (event.kind) }
                            td {
                                @if event.kind.starts_with("membership.") {
                                    a href={"/console/memberships/" (event.object_id)} { code { (event.object_id) } }
                                } @else {
                                    code { (event.object_id) }
                                }
                            }
                            td { (event.actor.kind.as_str()) " " (event.actor.key_prefix.clone().or_else(|| event.actor.id.clone()).unwrap_or_default()) }
                            td { (changed_fields(event.previous_attributes.as_ref())) }
                        }
                    }
                }
            }
            (paging("/console/events", next, matches!(query.position, Position::Offset(0))))
        }
    };
    answer(StatusCode::OK, page(&session, Section::Events, "Events", None, content))
}

pub(crate) async fn webhooks(State(state): State<AppState>, session: Session, Query(params): Params) -> Response {
    let query = page_query(&params);
    let listed = match webhooks::list(&state.app, &session.caller, &query).await {
        Ok(listed) => listed,
        Err(error) => return failed(&session, Section::Webhooks, &error),
    };
    let next = next_link("/console/webhooks", &listed, &[]);
    let content = html! {
        p.muted { "Endpoints are managed through the API (" code { "/v1/webhook-endpoints" } ")." }
        @if listed.items.is_empty() {
            p.muted { "No webhook endpoints." }
        } @else {
            table {
                caption.skip { "Webhook endpoints" }
                thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Description" } th scope="col" { "State" } } }
                tbody {
                    @for endpoint in &listed.items {
                        tr {
                            td { code { (endpoint.url) } }
                            td { (endpoint.enabled_events.join(", ")) }
                            td { (endpoint.description) }
                            td { @if endpoint.disabled { "Disabled" } @else { "Enabled" } }
                        }
                    }
                }
            }
            (paging("/console/webhooks", next, matches!(query.position, Position::Offset(0))))
        }
    };
    answer(StatusCode::OK, page(&session, Section::Webhooks, "Webhooks", None, content))
}

#[cfg(test)]
mod tests {
    use super::permissions_of;
    use serde_json::json;

    #[test]
    fn permissions_are_read_from_commas_and_lines_and_blanks_dropped() {
        assert_eq!(
            permissions_of("invoices:read, users:write\n\n reports:*,"),
            json!(["invoices:read", "users:write", "reports:*"])
        );
    }
}
