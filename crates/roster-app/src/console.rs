//! The console's sign-ins: a session made from a secret key, kept server-side, acting as that
//! key on every request (the console calls the same operations as the API, so it can do exactly
//! what the key can). Only hashes are stored: the session's secret (the browser's cookie) and
//! the keys' secrets. Each request checks the key afresh, so revoking it, or its group or
//! organisation going, ends its sessions at once.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use roster_core::{
    Error,
    error::Result,
    keys::{self, SecretShape},
    model::{KeyType, Mode},
    policy::Principal,
    store::ConsoleSession,
    time::Timestamp,
};

use crate::App;

/// How long a session lasts from its sign-in, whatever is done with it: a working day.
pub const SESSION_LIFETIME_MILLIS: i64 = 8 * 60 * 60 * 1000;

/// How many expired sessions a sign-in clears on its way, so they never pile up.
const PRUNED_PER_SIGN_IN: u32 = 100;

/// A session's secret, as the browser's cookie holds it.
pub struct SessionToken(pub String);

impl SessionToken {
    fn generate() -> Self {
        let mut random = [0_u8; 32];
        keys::fill_random(&mut random);
        Self(format!("rcs_{}", URL_SAFE_NO_PAD.encode(random)))
    }

    fn hash(&self) -> String {
        keys::hash(&self.0)
    }

    /// The token every form of this session carries: derived from the session's secret, so it
    /// needs no storage, and a page of another origin, which cannot read the cookie, cannot make
    /// it.
    pub fn csrf_token(&self) -> String {
        keys::hash(&format!("roster-console-csrf:{}", self.0))
    }

    /// Whether `presented` is this session's form token, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        keys::hashes_match(&self.csrf_token(), presented)
    }
}

/// A signed-in session, as a request of it finds it.
pub struct Signed {
    pub session: ConsoleSession,
    /// The key of the session's current mode.
    pub principal: Principal,
}

/// The principal of a secret key that may sign in to the console: a secret key of a group or an
/// organisation. Publishable keys, user tokens, JWTs and the master key may not.
async fn console_key(app: &App, secret: &str) -> Result<(Principal, String, Mode)> {
    let shape = keys::parse(secret).ok_or(Error::Unauthorised)?;
    if shape.key_type != KeyType::Secret {
        return Err(Error::Unauthorised);
    }
    let principal = app.authenticate(secret).await?;
    match &principal {
        Principal::Key(key) if key.key_type == KeyType::Secret => Ok((principal, keys::hash(secret), shape.mode)),
        _ => Err(Error::Unauthorised),
    }
}

/// Signs in with `secret`: a new session in the key's mode, and the token to hand the browser.
pub async fn sign_in(app: &App, secret: &str) -> Result<SessionToken> {
    let (_, key_hash, mode) = console_key(app, secret).await?;
    let now = app.now();
    if let Err(error) = app.store.prune_console_sessions(now, PRUNED_PER_SIGN_IN).await {
        tracing::warn!(%error, "could not prune expired console sessions");
    }
    let token = SessionToken::generate();
    let (live_key_hash, test_key_hash) = match mode {
        Mode::Live => (Some(key_hash), None),
        Mode::Test => (None, Some(key_hash)),
    };
    let session = ConsoleSession {
        id_hash: token.hash(),
        live_key_hash,
        test_key_hash,
        mode,
        created_at: now,
        expires_at: Timestamp(now.millis() + SESSION_LIFETIME_MILLIS),
    };
    app.store.insert_console_session(&session).await?;
    Ok(token)
}

/// The session `token` names, unexpired, and the principal of its current mode's key;
/// `Unauthorised` when either is gone.
pub async fn signed(app: &App, token: &SessionToken) -> Result<Signed> {
    let session = app.store.console_session(&token.hash(), app.now()).await?.ok_or(Error::Unauthorised)?;
    let current = match session.mode {
        Mode::Live => &session.live_key_hash,
        Mode::Test => &session.test_key_hash,
    };
    let key_hash = current.as_deref().ok_or(Error::Unauthorised)?;
    let principal =
        app.authenticate_key(key_hash, SecretShape { key_type: KeyType::Secret, mode: session.mode }).await?;
    Ok(Signed { session, principal })
}

/// Shows `mode` from now on; false when the session holds no key of that mode (sign in with
/// one: [`add_key`]).
pub async fn switch_mode(app: &App, token: &SessionToken, mode: Mode) -> Result<bool> {
    let signed = signed(app, token).await?;
    let holds = match mode {
        Mode::Live => signed.session.live_key_hash.is_some(),
        Mode::Test => signed.session.test_key_hash.is_some(),
    };
    if !holds {
        return Ok(false);
    }
    let session = ConsoleSession { mode, ..signed.session };
    if app.store.update_console_session(&session).await? { Ok(true) } else { Err(Error::Unauthorised) }
}

/// Adds a key of the other mode, of the same partner, to the session, and shows its mode.
pub async fn add_key(app: &App, token: &SessionToken, secret: &str) -> Result<()> {
    let signed = signed(app, token).await?;
    let (principal, key_hash, mode) = console_key(app, secret).await?;
    let same_partner = match (&principal, &signed.principal) {
        (Principal::Key(new), Principal::Key(current)) => new.partner_id == current.partner_id,
        _ => false,
    };
    if !same_partner || mode == signed.session.mode {
        return Err(Error::Unauthorised);
    }
    let session = match mode {
        Mode::Live => ConsoleSession { live_key_hash: Some(key_hash), mode, ..signed.session },
        Mode::Test => ConsoleSession { test_key_hash: Some(key_hash), mode, ..signed.session },
    };
    if app.store.update_console_session(&session).await? { Ok(()) } else { Err(Error::Unauthorised) }
}

/// Ends the session; signing out of one that has already ended is no error.
pub async fn sign_out(app: &App, token: &SessionToken) -> Result<()> {
    app.store.delete_console_session(&token.hash()).await
}
