//! The users primitives of a transaction.

use super::*;

/// Inserts the user, then `conflict` (an `ON CONFLICT` clause, or nothing).
/// Inserts the user, then `tail` (an `ON CONFLICT` clause, `RETURNING` the columns as stored,
/// or nothing); the rows returned.
async fn insert_user(client: &Object, user: &User, tail: &str) -> Step<Vec<Row>> {
    let statement = format!(
        "INSERT INTO users AS u (id, partner_id, livemode, email, email_key, first_name, last_name, is_staff, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10){tail}"
    );
    fetch(
        client,
        &statement,
        &[
            &user.id,
            &user.partner_id,
            &user.mode.is_live(),
            &user.email,
            &email_key(&user.email),
            &name_column(&user.first_name),
            &name_column(&user.last_name),
            &user.is_staff,
            &user.created_at.millis(),
            &user.updated_at.millis(),
        ],
    )
    .await
}

#[async_trait]
impl Users for PostgresTransaction {
    async fn insert_user_unless_email_taken(&mut self, user: &User) -> Result<Option<User>> {
        let tail = format!(" ON CONFLICT (partner_id, livemode, email_key) DO NOTHING RETURNING {USER_COLUMNS}");
        let stored = insert_user(self.client()?, user, &tail).await.map_err(failed)?;
        stored.first().map(rows::user).transpose().map_err(failed)
    }

    async fn user_by_email(&mut self, scope: &Scope, email: &str, hold: UserHold) -> Result<Option<User>> {
        let lock = match hold {
            UserHold::Share => "FOR SHARE",
            UserHold::Update => "FOR UPDATE",
        };
        let statement = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.partner_id = $1 AND u.livemode = $2 AND u.email_key = $3 {lock}"
        );
        let row =
            fetch_opt(self.client()?, &statement, &[&scope.partner_id(), &scope.mode().is_live(), &email_key(email)])
                .await
                .map_err(failed)?;
        row.as_ref().map(rows::user).transpose().map_err(failed)
    }

    async fn user_by_id(&mut self, scope: &Scope, id: &str, hold: UserHold) -> Result<Option<User>> {
        let lock = match hold {
            UserHold::Share => "FOR SHARE",
            UserHold::Update => "FOR UPDATE",
        };
        let statement = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1 AND u.partner_id = $2 AND u.livemode = $3 {lock}"
        );
        let row = fetch_opt(self.client()?, &statement, &[&id, &scope.partner_id(), &scope.mode().is_live()])
            .await
            .map_err(failed)?;
        row.as_ref().map(rows::user).transpose().map_err(failed)
    }

    async fn hold_user(&mut self, user_id: &str) -> Result<()> {
        lock_user(self.client()?, user_id).await.map_err(failed)
    }

    async fn lock_user(&mut self, scope: &Scope, id: &str) -> Result<User> {
        let client = self.client()?;
        // Membership creates hold the user's row FOR SHARE: none can slip in between what the
        // caller checks and what it writes.
        lock_user(client, id).await.map_err(failed)?;
        get_user(client, scope, id).await.map_err(failed)
    }

    async fn email_taken(&mut self, scope: &Scope, email: &str, except: &str) -> Result<bool> {
        user_email_taken(self.client()?, scope, email, Some(except)).await.map_err(failed)
    }

    async fn update_user(&mut self, user: &User) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE users SET email = $2, email_key = $3, first_name = $4, last_name = $5, is_staff = $6, \
             updated_at = $7 WHERE id = $1",
            &[
                &user.id,
                &user.email,
                &email_key(&user.email),
                &name_column(&user.first_name),
                &name_column(&user.last_name),
                &user.is_staff,
                &user.updated_at.millis(),
            ],
        )
        .await
        .map(drop)
        .map_err(|failure| failed(user_conflict(failure)))
    }

    async fn user_in_scope(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        match get_user(self.client()?, scope, id).await {
            Ok(_) => Ok(true),
            Err(Failure::Domain(Error::NotFound)) => Ok(false),
            Err(other) => Err(failed(other)),
        }
    }

    async fn insert_user(&mut self, user: &User) -> Result<()> {
        insert_user(self.client()?, user, "").await.map(drop).map_err(|failure| failed(user_conflict(failure)))
    }
}
