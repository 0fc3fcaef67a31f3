//! Partners: the operator's master key creates them (with their admin group and first keys) and
//! issues new admin keys; no other credential reaches them.

use roster_core::{
    error::Result,
    model::{ApiKey, Mode, Partner},
    page::{ListPage, ListQuery},
    provision::{ProvisionedPartner, admin_group, admin_key, provision_partner},
};

use crate::{App, Caller};

pub async fn create(app: &App, caller: &Caller, name: String) -> Result<ProvisionedPartner> {
    caller.principal.require_master()?;
    let provisioned = provision_partner(name, app.now());
    app.write(caller, "partner.created", app.store.create_partner(&provisioned)).await?;
    Ok(provisioned)
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
        .write(
            caller,
            "api_key.created",
            app.store.issue_admin_key(partner_id, &fallback, &issued.key, &issued.secret_hash),
        )
        .await?;
    Ok((stored, issued.secret))
}

pub async fn list(app: &App, caller: &Caller, query: &ListQuery) -> Result<ListPage<Partner>> {
    caller.principal.require_master()?;
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
