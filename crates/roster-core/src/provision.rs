//! Building new partners and keys: the records a store inserts, and the secrets shown once.

use crate::{
    ids, keys,
    model::{ApiKey, KeyHolder, KeyType, Mode, Partner, PartnerGroup},
    policy::Ability,
    time::Timestamp,
};

/// What a new key needs besides its partner and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub name: String,
    pub key_type: KeyType,
    pub holder: KeyHolder,
    pub abilities: Vec<Ability>,
    pub expires_at: Option<Timestamp>,
}

/// A key just made: the record to store, and its secret, which is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub key: ApiKey,
    pub secret: String,
    pub secret_hash: String,
}

pub fn issue_key(partner_id: &str, mode: Mode, spec: KeySpec, now: Timestamp) -> IssuedKey {
    let secret = keys::generate(spec.key_type, mode);
    let key = ApiKey {
        id: ids::new_id(ids::API_KEY, now),
        partner_id: partner_id.to_owned(),
        mode,
        name: spec.name,
        key_type: spec.key_type,
        holder: spec.holder,
        abilities: spec.abilities,
        expires_at: spec.expires_at,
        last_used_at: None,
        revoked_at: None,
        prefix: keys::display_prefix(&secret),
        created_at: now,
        updated_at: now,
    };
    IssuedKey { key, secret_hash: keys::hash(&secret), secret }
}

/// A new partner: the partner, its admin group, and one live and one test admin key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedPartner {
    pub partner: Partner,
    pub admin_group: PartnerGroup,
    pub admin_keys: Vec<IssuedKey>,
}

pub fn provision_partner(name: String, now: Timestamp) -> ProvisionedPartner {
    let partner = Partner { id: ids::new_id(ids::PARTNER, now), name, created_at: now, updated_at: now };
    let admin_group = admin_group(&partner.id, now);
    let admin_keys = [Mode::Live, Mode::Test].into_iter().map(|mode| admin_key(&admin_group, mode, now)).collect();
    ProvisionedPartner { partner, admin_group, admin_keys }
}

/// An admin group for the partner, as every partner starts with.
pub fn admin_group(partner_id: &str, now: Timestamp) -> PartnerGroup {
    PartnerGroup {
        id: ids::new_id(ids::GROUP, now),
        partner_id: partner_id.to_owned(),
        name: "Admins".to_owned(),
        is_admin: true,
        organisation_ids: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}

/// A key with every ability, held by the admin group `group`.
pub fn admin_key(group: &PartnerGroup, mode: Mode, now: Timestamp) -> IssuedKey {
    let spec = KeySpec {
        name: format!("Admin key ({})", mode.as_str()),
        key_type: KeyType::Secret,
        holder: KeyHolder::Group(group.id.clone()),
        abilities: vec![Ability::All],
        expires_at: None,
    };
    issue_key(&group.partner_id, mode, spec, now)
}
