//! Organisations. Organisation keys see and change only their own and neither create nor delete
//! organisations; a non-admin group's new organisation is assigned to that group.

use roster_core::{
    Error,
    error::Result,
    ids,
    model::{Organisation, OrganisationSettings, PartnerGroup},
    page::{ListPage, ListQuery},
    policy::{Access, OrgScope, Resource, Scope},
    store::{NewOrganisation, OrganisationPatch},
};

use crate::{App, Caller, Change, Writer, webhooks::Subscribers};

fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::Organisations, access)
}

/// Creating or deleting organisations is for partner keys.
fn partner_scope(caller: &Caller) -> Result<Scope> {
    let scope = scope(caller, Access::Write)?;
    if caller.principal.is_organisation_key() {
        return Err(Error::Forbidden);
    }
    Ok(scope)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors. Creating and
/// deleting organisations is for partner keys.
pub fn authorise(caller: &Caller, access: Access, creates_or_deletes: bool) -> Result<()> {
    if creates_or_deletes { partner_scope(caller).map(drop) } else { scope(caller, access).map(drop) }
}

/// A non-admin group's new organisation is assigned to that group, so its key reaches it.
pub async fn create(app: &App, caller: &Caller, new: NewOrganisation) -> Result<Organisation> {
    let scope = partner_scope(caller)?;
    let now = app.now();
    let organisation = Organisation {
        id: ids::new_id(ids::ORGANISATION, now),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        name: new.name,
        settings: new.settings,
        created_at: now,
        updated_at: now,
    };
    app.transaction(caller, "organisation.created", |tx| {
        let (scope, organisation) = (scope.clone(), organisation.clone());
        Box::pin(async move {
            tx.insert_organisation(&organisation).await?;
            if let OrgScope::Group(group_id) = scope.orgs() {
                // The key's group was deleted after the key was checked: as if it came first.
                if !tx.hold_group(scope.partner_id(), group_id).await? {
                    return Err(Error::Unauthorised);
                }
                tx.add_group_organisation(group_id, &organisation.id).await?;
            }
            let created = tx.get_organisation(&scope, &organisation.id).await?;
            Ok((created.clone(), Change::created(created)))
        })
    })
    .await
}

pub async fn list(app: &App, caller: &Caller, query: &ListQuery) -> Result<ListPage<Organisation>> {
    let scope = scope(caller, Access::Read)?;
    crate::newest_first_only(query)?;
    app.store.list_organisations(&scope, query).await
}

/// The caller's organisations whose names start with `prefix` (ASCII letters in any case), in
/// name order, at most `limit`.
pub async fn search(app: &App, caller: &Caller, prefix: &str, limit: u32) -> Result<Vec<Organisation>> {
    let scope = scope(caller, Access::Read)?;
    app.store.search_organisations(&scope, prefix, limit).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<Organisation> {
    app.store.get_organisation(&scope(caller, Access::Read)?, id).await
}

/// Only what `patch` sends changes.
pub async fn update(app: &App, caller: &Caller, id: &str, patch: OrganisationPatch) -> Result<Organisation> {
    let scope = scope(caller, Access::Write)?;
    let now = app.now();
    app.transaction(caller, "organisation.updated", |tx| {
        let (scope, id, patch) = (scope.clone(), id.to_owned(), patch.clone());
        Box::pin(async move {
            // Held, so two changes of different fields do not undo each other.
            if !tx.lock_organisation(&scope, &id).await? {
                return Err(Error::NotFound);
            }
            let current = tx.get_organisation(&scope, &id).await?;
            if patch == OrganisationPatch::default() {
                return Ok((current, Change::none()));
            }
            let updated = Organisation {
                name: patch.name.unwrap_or_else(|| current.name.clone()),
                settings: OrganisationSettings {
                    enforce_twofactor: patch.enforce_twofactor.unwrap_or(current.settings.enforce_twofactor),
                    abuse_contact_email: patch
                        .abuse_contact_email
                        .unwrap_or_else(|| current.settings.abuse_contact_email.clone()),
                },
                updated_at: now,
                ..current.clone()
            };
            tx.update_organisation(&updated).await?;
            Ok((updated.clone(), Change::updated(current, updated)))
        })
    })
    .await
}

/// How many of an organisation's memberships a delete takes, and records the events of, at a time.
const MEMBERSHIPS_PER_PAGE: u32 = 1_000;

/// Deletes the organisation with its memberships, roles and keys, and takes it out of its
/// groups; each of those is an event of its own, ahead of the organisation's.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = partner_scope(caller)?;
    let writer = Writer::of(caller);
    let queued_ahead = app
        .write(&writer, "organisation.deleted", |tx| {
            let (scope, id, app, writer) = (scope.clone(), id.to_owned(), app.clone(), writer.clone());
            Box::pin(async move {
                if !tx.lock_organisation(&scope, &id).await? {
                    return Err(Error::NotFound);
                }
                let current = tx.get_organisation(&scope, &id).await?;
                // Its groups are held before any member is touched: a group's own write holds the
                // group and then its organisations, so if the two deadlock, PostgreSQL breaks it
                // before this has done its work. A group deleted meanwhile is passed over.
                let mut groups = Vec::new();
                for group_id in tx.organisation_groups(&id).await? {
                    match tx.lock_group(&scope, &group_id).await {
                        Ok(group) => groups.push(group),
                        Err(Error::NotFound) => {}
                        Err(error) => return Err(error),
                    }
                }
                let now = app.now();
                // It may have a million members: each page is deleted and its events recorded
                // in turn, never all of them in memory.
                let mut queued_ahead = false;
                let mut subscribers = Subscribers::default();
                let mut after_user_id = String::new();
                loop {
                    let page = tx.delete_organisation_memberships(&id, &after_user_id, MEMBERSHIPS_PER_PAGE).await?;
                    let Some(last) = page.last() else {
                        break;
                    };
                    after_user_id.clone_from(&last.user_id);
                    let deleted = page.into_iter().fold(Change::none(), |change, membership| {
                        change.after_consequence("membership.deleted", Change::deleted(membership))
                    });
                    queued_ahead |=
                        app.record(tx, &mut subscribers, &writer, "organisation.deleted", &deleted, now).await?;
                }
                let removed = tx.delete_organisation(&id).await?;
                let mut change = Change::deleted(current);
                for role in removed.roles {
                    change = change.after_consequence("role.deleted", Change::deleted(role));
                }
                for key in removed.keys {
                    change = change.after_consequence("api_key.revoked", Change::deleted(key));
                }
                // Its groups no longer list it: each is changed.
                for before in groups {
                    tx.update_group(&PartnerGroup { updated_at: now, ..before.clone() }).await?;
                    let after = tx.lock_group(&scope, &before.id).await?;
                    change = change.after_consequence("partner_group.updated", Change::updated(before, after));
                }
                Ok((queued_ahead, change))
            })
        })
        .await?;
    if queued_ahead {
        app.webhooks.wake.notify_one();
    }
    Ok(())
}
