//! cloudflare's membership shape (spec §7), rendered from a user's own membership described by
//! `roster_app::memberships::describe_own`, and the envelope around every answer.

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use roster_app::memberships::OwnMembership;
use roster_core::permissions;
use serde::Serialize;
use serde_json::json;

#[derive(Serialize)]
pub struct Membership {
    account: Account,
    api_access_enabled: bool,
    id: String,
    permissions: Permissions,
    policies: [(); 0],
    roles: Vec<String>,
    status: &'static str,
}

#[derive(Serialize)]
pub struct Account {
    created_on: String,
    id: String,
    managed_by: ManagedBy,
    name: String,
    settings: AccountSettings,
    /// The client requires `standard` or `enterprise`.
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
pub struct ManagedBy {
    parent_org_id: String,
    parent_org_name: String,
}

#[derive(Serialize)]
pub struct AccountSettings {
    abuse_contact_email: Option<String>,
    enforce_twofactor: bool,
}

#[derive(Serialize)]
pub struct Grant {
    read: bool,
    write: bool,
}

/// The reference's twelve resource groups, each evaluated against `group:read` and
/// `group:write`.
#[derive(Serialize)]
pub struct Permissions {
    analytics: Grant,
    billing: Grant,
    cache_purge: Grant,
    dns: Grant,
    dns_records: Grant,
    lb: Grant,
    logs: Grant,
    organization: Grant,
    ssl: Grant,
    waf: Grant,
    zone_settings: Grant,
    zones: Grant,
}

fn permissions_of(granted: &[String]) -> Permissions {
    let grant = |group: &str| Grant {
        read: permissions::allows(granted, &format!("{group}:read")),
        write: permissions::allows(granted, &format!("{group}:write")),
    };
    Permissions {
        analytics: grant("analytics"),
        billing: grant("billing"),
        cache_purge: grant("cache_purge"),
        dns: grant("dns"),
        dns_records: grant("dns_records"),
        lb: grant("lb"),
        logs: grant("logs"),
        organization: grant("organization"),
        ssl: grant("ssl"),
        waf: grant("waf"),
        zone_settings: grant("zone_settings"),
        zones: grant("zones"),
    }
}

/// The built-in role's name, then the custom roles' names.
fn roles_of(own: &OwnMembership) -> Vec<String> {
    let builtin = match own.membership.settings.role {
        roster_core::model::MembershipRole::Admin => "Administrator",
        roster_core::model::MembershipRole::Standard => "Standard",
    };
    std::iter::once(builtin.to_owned()).chain(own.role_names.iter().cloned()).collect()
}

pub fn membership(own: &OwnMembership) -> Membership {
    let organisation = &own.organisation;
    Membership {
        account: Account {
            created_on: organisation.created_at.to_rfc3339(),
            id: organisation.id.clone(),
            managed_by: ManagedBy { parent_org_id: own.partner.id.clone(), parent_org_name: own.partner.name.clone() },
            name: organisation.name.clone(),
            settings: AccountSettings {
                abuse_contact_email: organisation.settings.abuse_contact_email.clone(),
                enforce_twofactor: organisation.settings.enforce_twofactor,
            },
            kind: "standard",
        },
        api_access_enabled: own.membership.settings.api_access_enabled,
        id: own.membership.id.clone(),
        permissions: permissions_of(&own.grants_once_accepted),
        policies: [],
        roles: roles_of(own),
        status: own.membership.status.as_str(),
    }
}

/// `{success: true, errors: [], messages: [], result}`, with `result_info` for a list page.
pub fn success(result: impl Serialize, result_info: Option<ResultInfo>) -> Response {
    let mut body = json!({"success": true, "errors": [], "messages": [], "result": result});
    if let (Some(info), Some(object)) = (result_info, body.as_object_mut()) {
        object.insert("result_info".to_owned(), json!(info));
    }
    Json(body).into_response()
}

#[derive(Serialize)]
pub struct ResultInfo {
    pub page: u64,
    pub per_page: u64,
    /// Items in this page.
    pub count: u64,
    pub total_count: u64,
    /// `ceil(total_count / per_page)`, 0 when there are none.
    pub total_pages: u64,
}
