//! The users primitives of a transaction.

use super::*;

/// Inserts the user, then `conflict` (an `ON CONFLICT` clause, or nothing); whether it did.
fn insert_user(connection: &Connection, user: &User, conflict: &str) -> rusqlite::Result<bool> {
    let statement = format!(
        "INSERT INTO users (id, partner_id, livemode, email, email_key, first_name, last_name, is_staff, \
         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10){conflict}"
    );
    connection
        .prepare_cached(&statement)?
        .execute(params![
            user.id,
            user.partner_id,
            user.mode.is_live(),
            user.email,
            email_key(&user.email),
            name_column(&user.first_name),
            name_column(&user.last_name),
            user.is_staff,
            user.created_at.millis(),
            user.updated_at.millis(),
        ])
        .map(|inserted| inserted == 1)
}

#[async_trait]
impl Users for SqliteTransaction {
    async fn insert_user_unless_email_taken(&mut self, user: &User) -> Result<Option<User>> {
        step!(self, |c| {
            if !insert_user(c, user, " ON CONFLICT (partner_id, livemode, email_key) DO NOTHING")
                .map_err(storage_error)?
            {
                return Ok(None);
            }
            c.query_row(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"), params![user.id], |row| {
                rows::user(row)
            })
            .map(Some)
            .map_err(storage_error)
        })
    }

    async fn user_by_email(&mut self, scope: &Scope, email: &str, _hold: UserHold) -> Result<Option<User>> {
        let key = email_key(email);
        step!(self, |c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.partner_id = ?1 AND u.livemode = ?2 AND u.email_key = ?3"
            ))
            .and_then(|mut statement| {
                statement
                    .query_row(params![scope.partner_id(), scope.mode().is_live(), key], |row| rows::user(row))
                    .optional()
            })
            .map_err(storage_error)
        })
    }

    async fn user_by_id(&mut self, scope: &Scope, id: &str, _hold: UserHold) -> Result<Option<User>> {
        step!(self, |c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1 AND u.partner_id = ?2 AND u.livemode = ?3"
            ))
            .and_then(|mut statement| {
                statement
                    .query_row(params![id, scope.partner_id(), scope.mode().is_live()], |row| rows::user(row))
                    .optional()
            })
            .map_err(storage_error)
        })
    }

    async fn hold_user(&mut self, _user_id: &str) -> Result<()> {
        Ok(())
    }

    async fn lock_user(&mut self, scope: &Scope, id: &str) -> Result<User> {
        step!(self, |c| get_user(c, scope, id))
    }

    async fn email_taken(&mut self, scope: &Scope, email: &str, except: &str) -> Result<bool> {
        step!(self, |c| user_email_taken(c, scope, email, Some(except)))
    }

    async fn update_user(&mut self, user: &User) -> Result<()> {
        step!(self, |c| {
            c.execute(
                "UPDATE users SET email = ?2, email_key = ?3, first_name = ?4, last_name = ?5, is_staff = ?6, \
                 updated_at = ?7 WHERE id = ?1",
                params![
                    user.id,
                    user.email,
                    email_key(&user.email),
                    name_column(&user.first_name),
                    name_column(&user.last_name),
                    user.is_staff,
                    user.updated_at.millis()
                ],
            )
            .map(drop)
            .map_err(|error| {
                if is_unique_violation(&error, "users.partner_id") {
                    Error::UserAlreadyExists
                } else {
                    storage_error(error)
                }
            })
        })
    }

    async fn user_in_scope(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        step!(self, |c| match get_user(c, scope, id) {
            Ok(_) => Ok(true),
            Err(Error::NotFound) => Ok(false),
            Err(other) => Err(other),
        })
    }

    async fn insert_user(&mut self, user: &User) -> Result<()> {
        step!(self, |c| {
            insert_user(c, user, "").map(drop).map_err(|error| {
                if is_unique_violation(&error, "users.partner_id") {
                    Error::UserAlreadyExists
                } else {
                    storage_error(error)
                }
            })
        })
    }
}
