//! API keys. A key is held by a partner group, an organisation or (a user token) a user within
//! the caller's scope, lives in the caller's mode, never carries abilities its creator lacks nor
//! outlives it ([`roster_core::policy::Principal::mint`]). The secret is returned at creation
//! only; revoking is final.

use roster_core::{
    Error, Field, ValidationCode,
    error::Result,
    model::{ApiKey, KeyHolder, KeyType},
    page::{ListPage, ListQuery},
    policy::{Ability, Access, Resource, Scope},
    provision::{KeySpec, issue_key},
    store::Transaction,
    time::Timestamp,
};

use crate::{App, Caller, Change};

/// A key to issue. `key_type` defaults to `secret`; a key held by a user is a user token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub key_type: Option<KeyType>,
    pub holder: KeyHolder,
    pub abilities: Vec<Ability>,
    pub expires_at: Option<Timestamp>,
}

fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::ApiKeys, access)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    scope(caller, access).map(drop)
}

/// The type a key of `holder` has: user tokens, and only they, are held by users.
fn key_type(holder: &KeyHolder, requested: Option<KeyType>) -> Result<KeyType> {
    match (holder, requested) {
        (KeyHolder::User(_), None | Some(KeyType::UserToken)) => Ok(KeyType::UserToken),
        (KeyHolder::User(_), Some(_)) => {
            Err(Error::field(Field::KeyType, ValidationCode::InvalidChoice, "a key held by a user is a user_token"))
        }
        (_, Some(KeyType::UserToken)) => {
            Err(Error::field(Field::KeyType, ValidationCode::InvalidChoice, "a user_token is held by a user_id"))
        }
        (_, requested) => Ok(requested.unwrap_or(KeyType::Secret)),
    }
}

/// Issues the key; returns it as stored and its secret, shown this once.
pub async fn create(app: &App, caller: &Caller, new: NewApiKey) -> Result<(ApiKey, String)> {
    let scope = scope(caller, Access::Write)?;
    let key_type = key_type(&new.holder, new.key_type)?;
    if key_type == KeyType::UserToken && !new.abilities.is_empty() {
        return Err(Error::field(
            Field::Abilities,
            ValidationCode::InvalidChoice,
            "user tokens carry no abilities: they act as their user",
        ));
    }
    let now = app.now();
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::field(Field::ExpiresAt, ValidationCode::OutOfRange, "must be in the future"));
    }
    let expires_at = caller.principal.mint(key_type, &new.abilities, new.expires_at)?;
    let spec = KeySpec { name: new.name, key_type, holder: new.holder, abilities: new.abilities, expires_at };
    let issued = issue_key(scope.partner_id(), scope.mode(), spec, now);
    let key = app
        .transaction(caller, "api_key.created", |tx| {
            let (scope, key, secret_hash) = (scope.clone(), issued.key.clone(), issued.secret_hash.clone());
            Box::pin(async move {
                check_holder(tx, &scope, &key.holder).await?;
                tx.insert_api_key(&key, &secret_hash).await?;
                Ok((key.clone(), Change::created(key)))
            })
        })
        .await?;
    Ok((key, issued.secret))
}

/// A key's holder must be within the caller's scope (held there until the key is stored): keys
/// never widen their holder's reach.
async fn check_holder(tx: &mut dyn Transaction, scope: &Scope, holder: &KeyHolder) -> Result<()> {
    let (reached, field) = match holder {
        KeyHolder::Group(group_id) => {
            (scope.reaches_group(group_id) && tx.hold_group(scope.partner_id(), group_id).await?, Field::PartnerGroupId)
        }
        KeyHolder::User(user_id) => (tx.user_in_scope(scope, user_id).await?, Field::UserId),
        KeyHolder::Organisation(organisation_id) => {
            (tx.hold_organisation(scope, organisation_id).await?, Field::OrganisationId)
        }
    };
    if reached { Ok(()) } else { Err(Error::invalid_reference(field)) }
}

pub async fn list(app: &App, caller: &Caller, query: &ListQuery) -> Result<ListPage<ApiKey>> {
    let scope = scope(caller, Access::Read)?;
    crate::newest_first_only(query)?;
    app.store.list_api_keys(&scope, query).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<ApiKey> {
    app.store.get_api_key(&scope(caller, Access::Read)?, id).await
}

/// A key cannot revoke itself: another key must, so a partner is never left without knowing.
pub async fn revoke(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = scope(caller, Access::Write)?;
    if caller.principal.is_key(id) {
        return Err(Error::InvalidRequest("a key cannot revoke itself; revoke it with another key".to_owned()));
    }
    let now = app.now();
    app.transaction(caller, "api_key.revoked", |tx| {
        let (scope, id) = (scope.clone(), id.to_owned());
        Box::pin(async move {
            let current = tx.get_api_key(&scope, &id).await?;
            if current.revoked_at.is_some() {
                return Ok(((), Change::none()));
            }
            tx.revoke_api_key(&id, now).await?;
            let revoked = ApiKey { revoked_at: Some(now), updated_at: now, ..current.clone() };
            Ok(((), Change::updated(current, revoked)))
        })
    })
    .await
}
