//! Column lists and row mapping, one pair per table, so every query reads rows the same way.

use roster_core::{
    model::{
        AccessScope, ApiKey, KeyHolder, KeyType, Membership, MembershipRole, MembershipSettings,
        MembershipStatus, Mode, Notifications, Organisation, OrganisationSettings, Partner,
        PartnerGroup, User,
    },
    policy::Ability,
    time::Timestamp,
};
use rusqlite::{Row, types::Type};

pub use crate::columns::*;
use serde_json::{Map, Value};

fn corrupt(index: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, format!("invalid {what}").into())
}

fn timestamp(row: &Row, index: usize) -> rusqlite::Result<Timestamp> {
    row.get(index).map(Timestamp)
}

fn optional_timestamp(row: &Row, index: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row.get::<_, Option<i64>>(index)?.map(Timestamp))
}

fn mode(row: &Row, index: usize) -> rusqlite::Result<Mode> {
    row.get(index).map(Mode::from_live)
}

fn choice<T>(row: &Row, index: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| corrupt(index, "choice"))
}

fn json<T: serde::de::DeserializeOwned>(row: &Row, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|_| corrupt(index, "JSON"))
}

pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

pub fn abilities_json(abilities: &[Ability]) -> String {
    to_json(&abilities.iter().map(|a| a.to_wire()).collect::<Vec<_>>())
}

pub fn partner(row: &Row) -> rusqlite::Result<Partner> {
    Ok(Partner {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: timestamp(row, 2)?,
        updated_at: timestamp(row, 3)?,
    })
}

pub fn group(row: &Row) -> rusqlite::Result<PartnerGroup> {
    Ok(PartnerGroup {
        id: row.get(0)?,
        partner_id: row.get(1)?,
        name: row.get(2)?,
        is_admin: row.get(3)?,
        organisation_ids: Vec::new(),
        created_at: timestamp(row, 4)?,
        updated_at: timestamp(row, 5)?,
    })
}

pub fn organisation(row: &Row) -> rusqlite::Result<Organisation> {
    Ok(Organisation {
        id: row.get(0)?,
        partner_id: row.get(1)?,
        mode: mode(row, 2)?,
        name: row.get(3)?,
        settings: OrganisationSettings {
            enforce_twofactor: row.get(4)?,
            abuse_contact_email: row.get(5)?,
        },
        created_at: timestamp(row, 6)?,
        updated_at: timestamp(row, 7)?,
    })
}

pub fn user(row: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        partner_id: row.get(1)?,
        mode: mode(row, 2)?,
        email: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
        is_staff: row.get(6)?,
        created_at: timestamp(row, 7)?,
        updated_at: timestamp(row, 8)?,
    })
}

pub fn api_key(row: &Row) -> rusqlite::Result<ApiKey> {
    let holder = match (
        row.get::<_, Option<String>>(5)?,
        row.get::<_, Option<String>>(6)?,
    ) {
        (Some(group), None) => KeyHolder::Group(group),
        (None, Some(organisation)) => KeyHolder::Organisation(organisation),
        _ => return Err(corrupt(5, "key holder")),
    };
    let abilities: Vec<String> = json(row, 7)?;
    Ok(ApiKey {
        id: row.get(0)?,
        partner_id: row.get(1)?,
        mode: mode(row, 2)?,
        name: row.get(3)?,
        key_type: choice(row, 4, KeyType::parse)?,
        holder,
        abilities: abilities
            .iter()
            .map(|a| Ability::parse(a).ok_or_else(|| corrupt(7, "ability")))
            .collect::<Result<_, _>>()?,
        expires_at: optional_timestamp(row, 8)?,
        last_used_at: optional_timestamp(row, 9)?,
        revoked_at: optional_timestamp(row, 10)?,
        prefix: row.get(11)?,
        created_at: timestamp(row, 12)?,
        updated_at: timestamp(row, 13)?,
    })
}

pub fn membership(row: &Row) -> rusqlite::Result<Membership> {
    let metadata: Map<String, Value> = json(row, 24)?;
    Ok(Membership {
        id: row.get(0)?,
        partner_id: row.get(1)?,
        mode: mode(row, 2)?,
        organisation_id: row.get(3)?,
        user_id: row.get(4)?,
        first_name: row.get(5)?,
        last_name: row.get(6)?,
        email: row.get(7)?,
        settings: MembershipSettings {
            role: choice(row, 8, MembershipRole::parse)?,
            role_ids: json(row, 9)?,
            permissions: json(row, 10)?,
            is_owner: row.get(11)?,
            is_default: row.get(12)?,
            allowed_ips: json(row, 13)?,
            api_access_enabled: row.get(15)?,
            access_scope: choice(row, 16, AccessScope::parse)?,
            test_enabled: row.get(17)?,
            notifications: Notifications {
                alert_action_required: row.get(18)?,
                alert_resolved: row.get(19)?,
                alert_dismissed: row.get(20)?,
                evidence_requested: row.get(21)?,
            },
            reference: row.get(22)?,
            reference_origin: row.get(23)?,
            metadata,
        },
        status: choice(row, 14, MembershipStatus::parse)?,
        created_at: timestamp(row, 25)?,
        updated_at: timestamp(row, 26)?,
    })
}
