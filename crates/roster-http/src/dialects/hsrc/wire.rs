//! hsrc's account membership shape and its success envelope.

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use roster_core::model::{self, MembershipStatus};
use serde::Serialize;
use serde_json::json;

#[derive(Serialize)]
pub struct AccountMembership {
    object: &'static str,
    id: String,
    account_id: String,
    user_id: String,
    /// The user's id once the membership is accepted; null while it is pending.
    workspace_membership_id: Option<String>,
    /// The direct permissions, never the effective ones.
    permissions: Vec<String>,
    created_at: String,
    updated_at: String,
    user: User,
}

#[derive(Serialize)]
pub struct User {
    id: String,
    email: String,
    /// First and last name joined by a space; null when the user has none.
    name: Option<String>,
}

pub fn account_membership(membership: &model::Membership) -> AccountMembership {
    AccountMembership {
        object: "account_membership",
        id: membership.id.clone(),
        account_id: membership.organisation_id.clone(),
        user_id: membership.user_id.clone(),
        workspace_membership_id: (membership.status != MembershipStatus::Pending).then(|| membership.user_id.clone()),
        permissions: membership.settings.permissions.clone(),
        created_at: membership.created_at.to_rfc3339(),
        updated_at: membership.updated_at.to_rfc3339(),
        user: User {
            id: membership.user_id.clone(),
            email: membership.email.clone(),
            name: membership.user_full_name(),
        },
    }
}

/// `{message: "success", success: true, data}`.
pub fn success(data: impl Serialize) -> Response {
    Json(json!({"message": "success", "success": true, "data": data})).into_response()
}

/// A page: `data` the array, `has_more` beside it.
pub fn page(data: Vec<AccountMembership>, has_more: bool) -> Response {
    Json(json!({"message": "success", "success": true, "data": data, "has_more": has_more})).into_response()
}

/// What a deletion answers: no `data`.
pub fn done() -> Response {
    Json(json!({"message": "success", "success": true})).into_response()
}
