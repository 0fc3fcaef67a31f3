//! Partners: the operator's master key creates them (with their admin group and first keys) and
//! issues new admin keys; no other credential reaches them.

use roster_core::{
    Error,
    error::Result,
    model::{ApiKey, KeyHolder, Mode, Partner},
    page::{ListPage, ListQuery},
    policy::Principal,
    provision::{ProvisionedPartner, admin_group, admin_key, provision_partner},
};

use crate::{App, Caller, Change};

pub async fn create(app: &App, caller: &Caller, name: String) -> Result<ProvisionedPartner> {
    caller.principal.require_master()?;
    let provisioned = provision_partner(name, app.now());
    app.transaction(caller, "partner.created", |tx| {
        let provisioned = provisioned.clone();
        Box::pin(async move {
            tx.insert_partner(&provisioned).await?;
            Ok(((), provisioned_change(&provisioned)))
        })
    })
    .await?;
    Ok(provisioned)
}

/// A new partner, with its admin group and keys made on the way (they have events; the
/// partner, which the operator manages, has none).
fn provisioned_change(provisioned: &ProvisionedPartner) -> Change {
    let change = Change::created(provisioned.partner.clone())
        .after_consequence("partner_group.created", Change::created(provisioned.admin_group.clone()));
    provisioned
        .admin_keys
        .iter()
        .fold(change, |change, issued| change.after_consequence("api_key.created", Change::created(issued.key.clone())))
}

/// The partner a database without partners starts with, so `roster serve` works with no
/// configuration; `None` when one exists. Decided inside the write, so two nodes starting at
/// once create one.
pub async fn create_first(app: &App) -> Result<Option<ProvisionedPartner>> {
    let provisioned = provision_partner("default".to_owned(), app.now());
    let operator = Caller { principal: Principal::Master, request_id: "startup".to_owned(), address: None };
    app.transaction(&operator, "partner.created", |tx| {
        let provisioned = provisioned.clone();
        Box::pin(async move {
            if tx.hold_partners().await? {
                return Ok((None, Change::none()));
            }
            tx.insert_partner(&provisioned).await?;
            Ok((Some(provisioned.clone()), provisioned_change(&provisioned)))
        })
    })
    .await
}

/// A new admin key of `mode` in the partner's oldest admin group, or in a new admin group when
/// none is left: the way back in for a partner whose keys are all revoked. Returns the key as
/// stored and its secret, shown once.
pub async fn issue_admin_key(app: &App, caller: &Caller, partner_id: &str, mode: Mode) -> Result<(ApiKey, String)> {
    caller.principal.require_master()?;
    let now = app.now();
    let fallback = admin_group(partner_id, now);
    let issued = admin_key(&fallback, mode, now);
    let stored = app
        .transaction(caller, "api_key.created", |tx| {
            let (partner_id, fallback, mut key, secret_hash) =
                (partner_id.to_owned(), fallback.clone(), issued.key.clone(), issued.secret_hash.clone());
            Box::pin(async move {
                if !tx.hold_partner(&partner_id).await? {
                    return Err(Error::NotFound);
                }
                let (group_id, recreated) = match tx.oldest_admin_group(&partner_id).await? {
                    Some(id) => (id, None),
                    None => {
                        tx.insert_group(&fallback).await?;
                        (fallback.id.clone(), Some(fallback))
                    }
                };
                key.holder = KeyHolder::Group(group_id);
                tx.insert_api_key(&key, &secret_hash).await?;
                let change = Change::created(key.clone());
                let change = match recreated {
                    Some(group) => change.after_consequence("partner_group.created", Change::created(group)),
                    None => change,
                };
                Ok((key, change))
            })
        })
        .await?;
    Ok((stored, issued.secret))
}

pub async fn list(app: &App, caller: &Caller, query: &ListQuery) -> Result<ListPage<Partner>> {
    caller.principal.require_master()?;
    crate::newest_first_only(query)?;
    app.store.list_partners(query).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<Partner> {
    caller.principal.require_master()?;
    app.store.get_partner(id).await
}

/// Whether the caller may manage partners: the master key alone.
pub fn authorise(caller: &Caller) -> Result<()> {
    caller.principal.require_master()
}
