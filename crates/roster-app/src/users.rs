//! Users belong to the partner; a non-admin group or an organisation key sees those with a
//! membership in its organisations, and changes one only when every membership of that user is
//! in its scope. A user principal reads itself.

use roster_core::{
    Error,
    error::Result,
    ids,
    model::User,
    page::{ListPage, ListQuery},
    policy::{Access, Resource, Scope},
    rules,
    store::{NewUser, Transaction, UserPatch},
    time::Timestamp,
};

use crate::{App, Caller, Change};

fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::Users, access)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    scope(caller, access).map(drop)
}

/// A user of the caller's partner and mode; its e-mail must be free there (ignoring case).
pub async fn create(app: &App, caller: &Caller, new: NewUser) -> Result<User> {
    let scope = scope(caller, Access::Write)?;
    let now = app.now();
    let user = User {
        id: ids::new_id(ids::USER, now),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        email: new.email,
        first_name: Some(new.first_name),
        last_name: Some(new.last_name),
        is_staff: new.is_staff,
        created_at: now,
        updated_at: now,
    };
    app.transaction(caller, "user.created", |tx| {
        let (scope, user) = (scope.clone(), user.clone());
        Box::pin(async move {
            if tx.email_taken(&scope, &user.email, &user.id).await? {
                return Err(Error::UserAlreadyExists);
            }
            tx.insert_user(&user).await?;
            Ok((user.clone(), Change::created(user)))
        })
    })
    .await
}

/// `email` is compared ignoring case.
pub async fn list(app: &App, caller: &Caller, email: Option<&str>, query: &ListQuery) -> Result<ListPage<User>> {
    let scope = scope(caller, Access::Read)?;
    crate::newest_first_only(query)?;
    app.store.list_users(&scope, email, query).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<User> {
    app.store.get_user(&scope(caller, Access::Read)?, id).await
}

pub async fn update(app: &App, caller: &Caller, id: &str, patch: UserPatch) -> Result<User> {
    let scope = scope(caller, Access::Write)?;
    let now = app.now();
    app.transaction(caller, "user.updated", |tx| {
        let (scope, id, patch) = (scope.clone(), id.to_owned(), patch.clone());
        Box::pin(async move { update_in(tx, &scope, &id, patch, now).await })
    })
    .await
}

/// A user belongs to the partner: a key scoped to some organisations changes it only when every
/// membership of the user is in that scope, and a member is never made staff (rule 5).
async fn update_in(
    tx: &mut dyn Transaction,
    scope: &Scope,
    id: &str,
    patch: UserPatch,
    now: Timestamp,
) -> Result<(User, Change)> {
    let current = tx.lock_user(scope, id).await?;
    let (has_memberships, outside) = tx.membership_reach(scope, id).await?;
    let makes_staff = patch.is_staff == Some(true) && !current.is_staff;
    rules::check_user_update(outside, has_memberships, makes_staff)?;
    if patch == UserPatch::default() {
        return Ok((current, Change::none()));
    }
    if let Some(email) = &patch.email
        && tx.email_taken(scope, email, id).await?
    {
        return Err(Error::UserAlreadyExists);
    }
    let updated = User {
        email: patch.email.unwrap_or_else(|| current.email.clone()),
        first_name: patch.first_name.or_else(|| current.first_name.clone()),
        last_name: patch.last_name.or_else(|| current.last_name.clone()),
        is_staff: patch.is_staff.unwrap_or(current.is_staff),
        updated_at: now,
        ..current.clone()
    };
    tx.update_user(&updated).await?;
    Ok((updated.clone(), Change::updated(current, updated)))
}

/// The user acting, for users only; a user deleted since its token was checked is
/// unauthenticated.
pub async fn me(app: &App, caller: &Caller) -> Result<User> {
    let user = caller.principal.require_user()?;
    app.store.find_user(&user.user_id).await?.ok_or(Error::Unauthorised)
}
