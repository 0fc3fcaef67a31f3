//! Users belong to the partner; a non-admin group or an organisation key sees those with a
//! membership in its organisations, and changes one only when every membership of that user is
//! in its scope. A user principal reads itself.

use roster_core::{
    Error,
    error::Result,
    model::User,
    page::{ListPage, ListQuery},
    policy::{Access, Resource, Scope},
    store::{NewUser, UserPatch},
};

use crate::{App, Caller};

fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::Users, access)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read, so a caller without access learns nothing from validation errors.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    scope(caller, access).map(drop)
}

pub async fn create(app: &App, caller: &Caller, user: NewUser) -> Result<User> {
    let scope = scope(caller, Access::Write)?;
    app.write(caller, "user.created", app.store.create_user(&scope, user, app.now())).await
}

/// `email` is compared ignoring case.
pub async fn list(app: &App, caller: &Caller, email: Option<&str>, query: &ListQuery) -> Result<ListPage<User>> {
    app.store.list_users(&scope(caller, Access::Read)?, email, query).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<User> {
    app.store.get_user(&scope(caller, Access::Read)?, id).await
}

pub async fn update(app: &App, caller: &Caller, id: &str, patch: UserPatch) -> Result<User> {
    let scope = scope(caller, Access::Write)?;
    app.write(caller, "user.updated", app.store.update_user(&scope, id, patch, app.now())).await
}

/// The user acting, for users only; a user deleted since its token was checked is
/// unauthenticated.
pub async fn me(app: &App, caller: &Caller) -> Result<User> {
    let user = caller.principal.require_user()?;
    app.store.find_user(&user.user_id).await?.ok_or(Error::Unauthorised)
}
