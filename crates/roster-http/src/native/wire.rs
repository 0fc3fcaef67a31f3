//! The native wire shapes. Kept apart from the core model so the API can stay stable while the
//! model grows.

use roster_core::model::{ApiKey, BuiltinRole, Membership, Mode, Organisation, Partner, PartnerGroup, Role, User};
use serde_json::{Value, json};

pub fn partner(partner: &Partner) -> Value {
    json!({
        "object": "partner",
        "id": partner.id,
        "name": partner.name,
        "created_at": partner.created_at,
        "updated_at": partner.updated_at,
    })
}

pub fn group(group: &PartnerGroup) -> Value {
    json!({
        "object": "partner_group",
        "id": group.id,
        "partner_id": group.partner_id,
        "name": group.name,
        "is_admin": group.is_admin,
        "organisation_ids": group.organisation_ids,
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    })
}

pub fn organisation(organisation: &Organisation) -> Value {
    json!({
        "object": "organisation",
        "id": organisation.id,
        "livemode": organisation.mode.is_live(),
        "partner_id": organisation.partner_id,
        "name": organisation.name,
        "settings": {
            "enforce_twofactor": organisation.settings.enforce_twofactor,
            "abuse_contact_email": organisation.settings.abuse_contact_email,
        },
        "created_at": organisation.created_at,
        "updated_at": organisation.updated_at,
    })
}

pub fn user(user: &User) -> Value {
    json!({
        "object": "user",
        "id": user.id,
        "livemode": user.mode.is_live(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_staff": user.is_staff,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    })
}

pub fn api_key(key: &ApiKey) -> Value {
    let (group_id, organisation_id, user_id) = key.holder.ids();
    json!({
        "object": "api_key",
        "id": key.id,
        "livemode": key.mode.is_live(),
        "name": key.name,
        "type": key.key_type.as_str(),
        "partner_group_id": group_id,
        "organisation_id": organisation_id,
        "user_id": user_id,
        "abilities": key.abilities.iter().map(|a| a.to_wire()).collect::<Vec<_>>(),
        "prefix": key.prefix,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
        "created_at": key.created_at,
        "updated_at": key.updated_at,
    })
}

pub fn membership(membership: &Membership) -> Value {
    let settings = &membership.settings;
    let notifications = &settings.notifications;
    json!({
        "object": "membership",
        "id": membership.id,
        "livemode": membership.mode.is_live(),
        "organisation_id": membership.organisation_id,
        "user_id": membership.user_id,
        "first_name": membership.first_name,
        "last_name": membership.last_name,
        "email": membership.email,
        "role": settings.role.as_str(),
        "role_ids": settings.role_ids,
        "permissions": settings.permissions,
        "is_owner": settings.is_owner,
        "is_default": settings.is_default,
        "allowed_ips": settings.allowed_ips,
        "status": membership.status.as_str(),
        "api_access_enabled": settings.api_access_enabled,
        "access_scope": settings.access_scope.as_str(),
        "test_enabled": settings.test_enabled,
        "is_alert_action_required_email_enabled": notifications.alert_action_required,
        "is_alert_resolved_email_enabled": notifications.alert_resolved,
        "is_alert_dismissed_email_enabled": notifications.alert_dismissed,
        "is_evidence_requested_email_enabled": notifications.evidence_requested,
        "reference": settings.reference,
        "reference_origin": settings.reference_origin,
        "metadata": settings.metadata,
        "created_at": membership.created_at,
        "updated_at": membership.updated_at,
    })
}

pub fn role(role: &Role) -> Value {
    json!({
        "object": "role",
        "id": role.id,
        "livemode": role.mode.is_live(),
        "organisation_id": role.organisation_id,
        "name": role.name,
        "permissions": role.permissions,
        "is_builtin": false,
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    })
}

/// A built-in role, seen from one organisation (or from none); it was never created, so its
/// timestamps are null.
pub fn builtin_role(role: &BuiltinRole, mode: Mode, organisation_id: Option<&str>) -> Value {
    json!({
        "object": "role",
        "id": role.id,
        "livemode": mode.is_live(),
        "organisation_id": organisation_id,
        "name": role.name,
        "permissions": role.permissions,
        "is_builtin": true,
        "created_at": null,
        "updated_at": null,
    })
}

pub fn permission_set(permissions: &[String]) -> Value {
    json!({"object": "permission_set", "permissions": permissions})
}
