//! Roster's operations, under every wire format: who the caller is ([`App::authenticate`]),
//! what it may reach (each operation asks the caller's principal for a scope), the business
//! rules, and one write path (`App::transaction`) that every change passes through. Adapters (the
//! native API, the dialects) parse their wire format, call an operation here, and render what it
//! returns; they decide nothing. No HTTP, no SQL: the storage is any [`Store`].
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod api_keys;
mod authenticate;
pub mod console;
mod credentials;
pub mod events;
pub mod groups;
pub mod memberships;
pub mod organisations;
pub mod partners;
pub mod roles;
pub mod users;
pub mod webhooks;

use std::{
    collections::HashMap,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

pub use authenticate::{JwtVerifier, MIN_HS256_SECRET_BYTES};
pub use events::RenderObject;
use roster_core::{
    Error,
    error::Result,
    keys,
    model::{
        Actor, ActorKind, ApiKey, Membership, Mode, Organisation, Partner, PartnerGroup, Role, User, WebhookEndpoint,
    },
    page::{ListQuery, MAX_LIMIT, Position},
    policy::Principal,
    store::{PoolStatus, Store, Transaction},
    time::{Clock, SystemClock, Timestamp},
};
pub use webhooks::RenderEvent;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{credentials::CredentialCache, webhooks::Subscribers};

/// What the operator configured that the operations need.
#[derive(Debug, Clone)]
pub struct Config {
    /// The master key, if any: it manages partners and nothing else.
    pub master_key: Option<String>,
    /// Verifies outside identity providers' tokens, when configured.
    pub jwt: Option<JwtVerifier>,
    /// How long this node may answer from memory for an API key it looked up; a revocation on
    /// another node takes effect here within this time. Zero looks up every request.
    pub credential_cache_ttl: Duration,
    /// Where "now" comes from; tests set it.
    pub clock: Arc<dyn Clock>,
    /// How objects are shown in events: the native wire shape.
    pub render_object: RenderObject,
    /// How events are sent to webhook endpoints: the native wire shape.
    pub render_event: RenderEvent,
    /// Whether webhooks may be sent to loopback, private and link-local addresses.
    pub webhook_allow_private: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            master_key: None,
            jwt: None,
            credential_cache_ttl: Duration::from_secs(1),
            clock: Arc::new(SystemClock),
            render_object: events::identity_only(),
            render_event: webhooks::event_identity_only(),
            webhook_allow_private: false,
        }
    }
}

/// Who is asking, on whose behalf a write is made: the authenticated principal, the request's
/// id (carried into logs and, later, events) and the client's address when it is known (the
/// `allowed_ips` fences; unknown fails every fence).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub request_id: String,
    pub address: Option<IpAddr>,
}

/// The application: the store, the configuration and what this node remembers. Cloning shares
/// it.
#[derive(Clone)]
pub struct App(Arc<Shared>);

pub struct Shared {
    store: Arc<dyn Store>,
    /// Only the hash of the master key is kept, so it is compared like every other secret.
    master_key_hash: Option<String>,
    jwt: Option<JwtVerifier>,
    clock: Arc<dyn Clock>,
    render_object: RenderObject,
    render_event: RenderEvent,
    /// Delivery of the outbox: its client, its worker's wake-up, its counters.
    pub webhooks: webhooks::Webhooks,
    credentials: CredentialCache,
    /// When this node last recorded each key's use, so a burst of requests with a key whose
    /// `last_used_at` is stale writes it once, not once per request.
    recorded_uses: Mutex<HashMap<String, Timestamp>>,
    /// The recordings of key uses still running, for `key_uses_recorded`.
    pending_uses: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The list rows this node's requests hold in memory at once, from their fetch until their
    /// response is written: see [`App::hold_list_rows`].
    list_rows: Arc<Semaphore>,
}

/// How many list rows all requests together may hold in memory: one of the largest pages
/// (`limit=1000` and the one more every page fetches), or twenty default pages. The largest
/// membership serialises to ~40 KB, so a largest page is ~40 MB of rows; 64 of them at once held
/// 2.7 GB before there was a budget (spec §8 asks for 256 MB). Requests over budget wait their
/// turn; a page's share is held until its last chunk is taken by the client.
pub const LIST_ROWS_IN_MEMORY: u32 = MAX_LIMIT + 1;

/// A list page's share of [`LIST_ROWS_IN_MEMORY`], given back when dropped.
#[derive(Debug)]
pub struct ListRowsHeld(#[expect(dead_code, reason = "held only to be dropped")] OwnedSemaphorePermit);

impl std::ops::Deref for App {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl App {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        Self(Arc::new(Shared {
            store,
            master_key_hash: config.master_key.as_deref().map(keys::hash),
            jwt: config.jwt,
            clock: config.clock,
            render_object: config.render_object,
            render_event: config.render_event,
            webhooks: webhooks::Webhooks::new(config.webhook_allow_private),
            credentials: CredentialCache::new(config.credential_cache_ttl),
            recorded_uses: Mutex::default(),
            pending_uses: Mutex::default(),
            list_rows: Arc::new(Semaphore::new(LIST_ROWS_IN_MEMORY as usize)),
        }))
    }

    /// Waits until a page of `limit` rows fits in [`LIST_ROWS_IN_MEMORY`] and holds its share
    /// until the guard is dropped: an adapter takes it before calling a list operation and
    /// drops it once the page's response is written.
    pub async fn hold_list_rows(&self, limit: u32) -> Result<ListRowsHeld> {
        let rows = limit.saturating_add(1).min(LIST_ROWS_IN_MEMORY);
        let permit = Arc::clone(&self.list_rows).acquire_many_owned(rows).await.map_err(|_| Error::Unavailable)?;
        Ok(ListRowsHeld(permit))
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }

    pub fn pool_status(&self) -> PoolStatus {
        self.store.pool_status()
    }
}

/// An object as a write found it or left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Membership(Box<Membership>),
    User(User),
    PartnerGroup(PartnerGroup),
    Organisation(Organisation),
    ApiKey(ApiKey),
    Role(Role),
    Partner(Partner),
    WebhookEndpoint(WebhookEndpoint),
}

impl Object {
    pub fn id(&self) -> &str {
        match self {
            Self::Membership(membership) => &membership.id,
            Self::User(user) => &user.id,
            Self::PartnerGroup(group) => &group.id,
            Self::Organisation(organisation) => &organisation.id,
            Self::ApiKey(key) => &key.id,
            Self::Role(role) => &role.id,
            Self::Partner(partner) => &partner.id,
            Self::WebhookEndpoint(endpoint) => &endpoint.id,
        }
    }
}

macro_rules! objects {
    ($($variant:ident),+) => {
        $(impl From<$variant> for Object {
            fn from(object: $variant) -> Self {
                Self::$variant(object)
            }
        })+
    };
}

objects!(User, PartnerGroup, Organisation, ApiKey, Role, Partner, WebhookEndpoint);

impl From<Membership> for Object {
    fn from(membership: Membership) -> Self {
        Self::Membership(Box::new(membership))
    }
}

/// What a write changed, as its operation saw it inside the transaction: the object before
/// (none when created) and after (none when deleted). Both none: nothing changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub before: Option<Object>,
    pub after: Option<Object>,
    /// What the write did to other objects on the way, each with its event's type, in the
    /// order it happened (the user a membership create made).
    pub consequences: Vec<(&'static str, Change)>,
}

impl Change {
    /// This change, after `change` made by `operation` on the way to it.
    pub(crate) fn after_consequence(mut self, operation: &'static str, change: Change) -> Self {
        self.consequences.push((operation, change));
        self
    }

    pub(crate) fn none() -> Self {
        Self::default()
    }

    pub(crate) fn created(after: impl Into<Object>) -> Self {
        Self { before: None, after: Some(after.into()), consequences: Vec::new() }
    }

    pub(crate) fn updated(before: impl Into<Object>, after: impl Into<Object>) -> Self {
        Self { before: Some(before.into()), after: Some(after.into()), consequences: Vec::new() }
    }

    pub(crate) fn deleted(before: impl Into<Object>) -> Self {
        Self { before: Some(before.into()), after: None, consequences: Vec::new() }
    }
}

/// The lists other than memberships' are ordered newest first and paged by offset or cursor
/// only: a sort or a `starting_after` is a request they cannot serve.
fn newest_first_only(query: &ListQuery) -> Result<()> {
    if !query.sort.is_empty() || matches!(query.position, Position::StartingAfter(_)) {
        return Err(Error::InvalidRequest(
            "this list is ordered newest first and paged by offset or cursor only".to_owned(),
        ));
    }
    Ok(())
}

/// A committed change, in the log with the request it was made in.
fn log_change(request_id: &str, operation: &'static str, change: &Change) {
    if let Some(object) = change.after.as_ref().or(change.before.as_ref()) {
        tracing::debug!(request_id, operation, object_id = object.id(), "changed");
    }
}

/// One run of a transaction's work: a future that borrows the transaction only.
pub(crate) type Work<'t, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 't>>;

/// How often a transaction the database gave up for another is run again before the request is
/// answered `Unavailable`.
const MAX_ATTEMPTS: u32 = 5;

/// Who a write is made by, as its events record it: the actor, the mode a partner group's
/// events take, and the request it was made in.
#[derive(Clone)]
pub(crate) struct Writer {
    actor: Actor,
    /// The partner it writes for, if it is one's (the master key is not).
    partner_id: Option<String>,
    mode: Mode,
    request_id: String,
}

impl Writer {
    fn of(caller: &Caller) -> Self {
        let partner_id = match &caller.principal {
            Principal::Key(key) => Some(key.partner_id.clone()),
            Principal::User(user) => Some(user.partner_id.clone()),
            Principal::Master => None,
        };
        Self {
            actor: events::actor(&caller.principal),
            partner_id,
            mode: events::writer_mode(&caller.principal),
            request_id: caller.request_id.clone(),
        }
    }

    /// Roster itself, for partner `partner_id` in `mode`, for the reason `request_id` names (a
    /// webhook given up).
    pub(crate) fn system(partner_id: String, mode: Mode, request_id: String) -> Self {
        Self {
            actor: Actor { kind: ActorKind::System, id: None, key_prefix: None },
            partner_id: Some(partner_id),
            mode,
            request_id,
        }
    }
}

impl App {
    /// Runs `work` in one transaction and commits what it did, through the one write path: the
    /// caller and the operation are at hand inside the transaction, where the events of every
    /// write are recorded. `work` runs again from the start (on a new transaction) when the
    /// database gave it up for another (`Contention`), so it must read everything it decides
    /// with from the transaction it is given.
    async fn transaction<T: Send>(
        &self,
        caller: &Caller,
        operation: &'static str,
        work: impl for<'t> Fn(&'t mut dyn Transaction) -> Work<'t, (T, Change)> + Send + Sync,
    ) -> Result<T> {
        self.write(&Writer::of(caller), operation, work).await
    }

    /// Appends the events of `change`, made by `operation`, in `transaction`, and queues them
    /// for the webhook endpoints that take them; whether any was queued. The write path does
    /// it once the work is done; a work whose consequences are too many to hold in memory (an
    /// organisation's memberships) does it for them a page at a time, before its own.
    async fn record(
        &self,
        transaction: &mut dyn Transaction,
        subscribers: &mut Subscribers,
        writer: &Writer,
        operation: &str,
        change: &Change,
        now: Timestamp,
    ) -> Result<bool> {
        let events = events::events_of(&self.render_object, writer, operation, change, now);
        // Queued first, the events appended last: the partner's event counter, which the
        // append takes (or, on PostgreSQL, the commit), is held until the commit, so that hold
        // is kept short.
        let queued = webhooks::enqueue(transaction, subscribers, &events, now).await?;
        events::append(transaction, &events).await?;
        Ok(queued)
    }

    /// [`App::transaction`] for a writer that need not be a caller (Roster itself).
    async fn write<T: Send>(
        &self,
        writer: &Writer,
        operation: &'static str,
        work: impl for<'t> Fn(&'t mut dyn Transaction) -> Work<'t, (T, Change)> + Send + Sync,
    ) -> Result<T> {
        // A write that may revoke or remove a key (directly, or with its group or organisation)
        // or change what a remembered key says makes this node look keys up afresh once it is
        // over, committed or not, and also when the request is dropped half-way. Other writes
        // keep the memory: clearing it on every write cost each write a key lookup.
        let _forget_credentials = may_change_credentials(operation).then(|| ForgetCredentials(&self.credentials));
        let mut attempt = 1;
        loop {
            let mut transaction = self.store.begin().await?;
            let mut subscribers = Subscribers::default();
            // The writer's webhook endpoints are read before the work takes its locks: a write
            // that waits for an organisation's lock then holds it for its own statements and
            // the commit only. (Read later, the endpoints could as well miss one created
            // meanwhile: whichever endpoint exists when this reads takes the write's events.)
            // A write of an endpoint reads them after it, as it left them.
            let read_ahead = match &writer.partner_id {
                Some(partner_id) if !operation.starts_with("webhook_endpoint.") => {
                    subscribers.of(transaction.as_mut(), partner_id, writer.mode).await.map(drop)
                }
                _ => Ok(()),
            };
            let outcome = match read_ahead {
                Ok(()) => work(transaction.as_mut()).await,
                Err(error) => Err(error),
            };
            let outcome = match outcome {
                // Every write passes here with its change, its writer and its request inside its
                // transaction: its events are appended there, and queued for the webhook
                // endpoints that take them, so they commit with the write or not at all (§9).
                Ok((value, change)) => {
                    let now = self.now();
                    self.record(transaction.as_mut(), &mut subscribers, writer, operation, &change, now)
                        .await
                        .map(|queued| (value, change, queued))
                }
                Err(error) => Err(error),
            };
            let outcome = match outcome {
                Ok((value, change, queued)) => transaction.commit().await.map(|()| {
                    log_change(&writer.request_id, operation, &change);
                    if queued {
                        self.webhooks.wake.notify_one();
                    }
                    value
                }),
                Err(error) => Err(error),
            };
            match outcome {
                Err(Error::Contention) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(attempt, operation, "running a transaction again after a conflict");
                    // A short, growing pause lets the transaction it conflicted with finish.
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(Error::Contention) => return Err(Error::Unavailable),
                other => return other,
            }
        }
    }
}

/// Whether a write of `operation` may revoke or remove a key or change what a remembered key
/// says (its group's admin flag): the keys' and groups' own writes and every deletion (keys go
/// with their holder).
fn may_change_credentials(operation: &str) -> bool {
    operation.starts_with("api_key.") || operation.starts_with("partner_group.") || operation.ends_with(".deleted")
}

struct ForgetCredentials<'a>(&'a CredentialCache);

impl Drop for ForgetCredentials<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::may_change_credentials;

    #[test]
    fn writes_that_may_revoke_or_change_a_key_forget_the_remembered_keys_and_others_keep_them() {
        for operation in [
            "api_key.created",
            "api_key.revoked",
            "partner_group.updated",
            "partner_group.deleted",
            "organisation.deleted",
            "membership.deleted",
            "role.deleted",
        ] {
            assert!(may_change_credentials(operation), "{operation}");
        }
        for operation in [
            "membership.created",
            "membership.updated",
            "membership.upserted",
            "organisation.created",
            "organisation.updated",
            "role.created",
            "role.updated",
            "user.created",
            "user.updated",
            "partner.created",
        ] {
            assert!(!may_change_credentials(operation), "{operation}");
        }
    }
}
