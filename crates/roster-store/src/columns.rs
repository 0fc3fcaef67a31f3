//! The column lists both backends select, in the order their row mappers read them.

pub const PARTNER_COLUMNS: &str = "p.id, p.name, p.created_at, p.updated_at";

pub const ORGANISATION_COLUMNS: &str = "o.id, o.partner_id, o.livemode, o.name, o.enforce_twofactor, o.abuse_contact_email, o.created_at, o.updated_at";

pub const USER_COLUMNS: &str = "u.id, u.partner_id, u.livemode, u.email, u.first_name, u.last_name, u.is_staff, u.created_at, u.updated_at";

pub const API_KEY_COLUMNS: &str = "k.id, k.partner_id, k.livemode, k.name, k.key_type, k.group_id, k.organisation_id, \
     k.abilities, k.expires_at, k.last_used_at, k.revoked_at, k.prefix, k.created_at, k.updated_at";

/// Memberships are read joined with their user, whose names and e-mail they show.
pub const MEMBERSHIP_COLUMNS: &str = "m.id, m.partner_id, m.livemode, m.organisation_id, m.user_id, \
     u.first_name, u.last_name, u.email, m.role, m.role_ids, m.permissions, m.is_owner, m.is_default, \
     m.allowed_ips, m.status, m.api_access_enabled, m.access_scope, m.test_enabled, \
     m.alert_action_required, m.alert_resolved, m.alert_dismissed, m.evidence_requested, \
     m.reference, m.reference_origin, m.metadata, m.created_at, m.updated_at";

pub const MEMBERSHIP_FROM: &str = "memberships m JOIN users u ON u.id = m.user_id";

pub const GROUP_COLUMNS: &str =
    "g.id, g.partner_id, g.name, g.is_admin, g.created_at, g.updated_at";
