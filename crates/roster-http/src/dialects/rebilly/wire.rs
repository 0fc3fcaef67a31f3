//! rebilly's membership shape (spec §7), rendered from the core's membership.

use roster_core::model;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    organization: Organization,
    user: User,
    allowed_ips: Vec<String>,
    permissions: Vec<String>,
    is_owner: bool,
    is_default: bool,
    role_ids: Vec<String>,
    created_time: String,
    updated_time: String,
    #[serde(rename = "_links")]
    links: [Link; 1],
}

#[derive(Serialize)]
pub struct Organization {
    id: String,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    id: String,
    email: String,
    name: String,
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Serialize)]
pub struct Link {
    rel: &'static str,
    href: String,
}

/// Where a membership lives: `{origin}/compat/rebilly/organizations/{current}/memberships/…`.
#[derive(Debug, Clone)]
pub struct Links {
    /// `http://HOST` of the request.
    pub origin: String,
    /// The request's `{currentOrg}`, or `unknown` (as the reference's samples) without one.
    pub current: String,
}

impl Links {
    pub fn membership(&self, organization_id: &str, user_id: &str) -> String {
        format!("{}/compat/rebilly/organizations/{}/memberships/{organization_id}/{user_id}", self.origin, self.current)
    }
}

pub fn membership(membership: &model::Membership, links: &Links) -> Membership {
    let settings = &membership.settings;
    let name = membership.user_full_name().unwrap_or_default();
    Membership {
        organization: Organization {
            id: membership.organisation_id.clone(),
            name: membership.organisation_name.clone(),
        },
        user: User {
            id: membership.user_id.clone(),
            email: membership.email.clone(),
            name,
            first_name: membership.first_name.clone(),
            last_name: membership.last_name.clone(),
        },
        allowed_ips: settings.allowed_ips.clone(),
        permissions: settings.permissions.clone(),
        is_owner: settings.is_owner,
        is_default: settings.is_default,
        role_ids: settings.role_ids.clone(),
        created_time: membership.created_at.to_rfc3339(),
        updated_time: membership.updated_at.to_rfc3339(),
        links: [Link { rel: "self", href: links.membership(&membership.organisation_id, &membership.user_id) }],
    }
}
