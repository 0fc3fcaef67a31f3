//! The storage port. Every backend (SQLite, PostgreSQL) implements [`Store`] and passes the same
//! conformance suite. Everything is written through a [`Transaction`] of primitives, with which
//! the operations (`roster-app`) decide access and the business rules ([`crate::rules`]) inside
//! the write; the holds each primitive takes make concurrent deciders take turns. [`Store`]
//! itself reads, and records a key's use. Every read of scoped data takes a [`Scope`]:
//! out-of-scope rows are simply not found.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::{
    error::Result,
    model::{
        AccessScope, ApiKey, Event, Membership, MembershipRole, MembershipSettings, MembershipStatus, Mode,
        Organisation, OrganisationSettings, Partner, PartnerGroup, Role, User, WebhookDelivery, WebhookEndpoint,
        WebhookSecrets,
    },
    page::{ListPage, ListQuery},
    policy::Scope,
    provision::ProvisionedPartner,
    rules,
    time::Timestamp,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrganisation {
    pub name: String,
    pub settings: OrganisationSettings,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganisationPatch {
    pub name: Option<String>,
    pub enforce_twofactor: Option<bool>,
    pub abuse_contact_email: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_staff: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    pub organisation_id: String,
    pub name: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolePatch {
    pub name: Option<String>,
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub name: String,
    pub is_admin: bool,
    pub organisation_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub is_admin: Option<bool>,
    /// Replaces the group's organisations of the caller's mode.
    pub organisation_ids: Option<Vec<String>>,
}

/// A key as the authentication path needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCredential {
    pub key: ApiKey,
    pub secret_hash: String,
    /// For group-held keys, whether the group is the partner's admin group.
    pub group_is_admin: bool,
}

/// A membership and the permissions its custom roles grant, as `find_membership` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipAccess {
    pub membership: Membership,
    pub role_permissions: Vec<String>,
}

/// Only the fields sent change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipPatch {
    pub role: Option<MembershipRole>,
    pub role_ids: Option<Vec<String>>,
    pub permissions: Option<Vec<String>>,
    pub is_owner: Option<bool>,
    pub is_default: Option<bool>,
    pub allowed_ips: Option<Vec<String>>,
    pub api_access_enabled: Option<bool>,
    pub access_scope: Option<AccessScope>,
    pub test_enabled: Option<bool>,
    pub alert_action_required: Option<bool>,
    pub alert_resolved: Option<bool>,
    pub alert_dismissed: Option<bool>,
    pub evidence_requested: Option<bool>,
    pub reference: Option<Option<String>>,
    pub reference_origin: Option<Option<String>>,
    /// Replaces the whole metadata object.
    pub metadata: Option<Map<String, Value>>,
}

impl MembershipPatch {
    pub fn apply(&self, current: &MembershipSettings) -> MembershipSettings {
        let mut next = current.clone();
        let notifications = &mut next.notifications;
        macro_rules! set {
            ($($target:expr => $source:expr),+ $(,)?) => {
                $(if let Some(value) = &$source { $target = value.clone(); })+
            };
        }
        set!(
            notifications.alert_action_required => self.alert_action_required,
            notifications.alert_resolved => self.alert_resolved,
            notifications.alert_dismissed => self.alert_dismissed,
            notifications.evidence_requested => self.evidence_requested,
            next.role => self.role,
            next.role_ids => self.role_ids,
            next.permissions => self.permissions,
            next.is_owner => self.is_owner,
            next.is_default => self.is_default,
            next.allowed_ips => self.allowed_ips,
            next.api_access_enabled => self.api_access_enabled,
            next.access_scope => self.access_scope,
            next.test_enabled => self.test_enabled,
            next.reference => self.reference,
            next.reference_origin => self.reference_origin,
            next.metadata => self.metadata,
        );
        next
    }
}

/// Which memberships a list holds: every condition given must hold; a set matches any of its
/// members (an empty set matches nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipFilter {
    pub organisation_ids: Option<Vec<String>>,
    pub user_ids: Option<Vec<String>>,
    /// Compared case-insensitively.
    pub email: Option<String>,
    pub statuses: Option<Vec<MembershipStatus>>,
    pub roles: Option<Vec<MembershipRole>>,
    pub is_owner: Option<bool>,
    pub is_default: Option<bool>,
    /// The exact name of their organisation.
    pub organisation_name: Option<String>,
}
/// Which events a list holds, beyond the scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// The resources (`membership`, `user`, …) whose events it holds; `None`: all.
    pub resources: Option<Vec<String>>,
    /// Exactly this type (`membership.updated`).
    pub kind: Option<String>,
    pub object_id: Option<String>,
    /// That organisation's own events and its objects'.
    pub organisation_id: Option<String>,
    pub created_gte: Option<Timestamp>,
    pub created_lt: Option<Timestamp>,
}

/// How a backend's connection pool stands, for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections the pool may hold.
    pub max: u64,
    /// Connections open now.
    pub open: u64,
    /// Open connections not serving a request.
    pub idle: u64,
    /// Requests waiting for a connection.
    pub waiting: u64,
}

/// How a transaction holds a user's row it reads, until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserHold {
    /// Against being made staff or changed by a key that would not reach what this
    /// transaction adds (a membership created beside it).
    Share,
    /// Against every other change: this transaction changes the user's other memberships.
    Update,
}

/// One write transaction: the primitives the operations (`roster-app`) decide with. Each reads
/// or writes rows and holds what it reads as its documentation says, so that two transactions
/// deciding a rule on the same rows take turns; none decides a rule itself. Dropping a
/// transaction without [`Transaction::commit`] rolls it back.
#[async_trait]
pub trait Transaction:
    Partners + Groups + Organisations + Users + Roles + Keys + Memberships + Events + WebhookEndpoints + Send
{
    /// Commits, unless the request it serves has given up (then `Unavailable`, and nothing is
    /// written: see `commit_gate`).
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// The primitives of a [`Transaction`], one trait per kind of row, so each backend implements
/// them in one module per kind. (A `dyn Transaction` offers them all without importing these.)
pub mod primitives {
    pub use super::{Events, Groups, Keys, Memberships, Organisations, Partners, Roles, Users, WebhookEndpoints};
}

/// The events of a transaction's writes, committed with them.
#[async_trait]
pub trait Events: Send {
    /// Appends `events`, all of one partner, with its next `sequence`s in their order (their own
    /// are ignored). The partner's counter is held until the transaction ends, so sequences
    /// increase in commit order: call it last before committing, so that it is held for as
    /// short a time as can be. A backend may hold the events until the commit and number them
    /// there (PostgreSQL does, so that the counter is the last lock a write takes): a failed
    /// append may then fail the commit, and nothing is written.
    async fn append_events(&mut self, events: &[Event]) -> Result<()>;
}

/// An enabled endpoint of a partner's mode and the events it takes, for enqueuing a write's
/// events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub endpoint_id: String,
    pub enabled_events: Vec<String>,
}

/// One event to deliver to one endpoint: a row of the outbox, written in the event's
/// transaction. Its id is the `webhook-id` of each of its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
}

/// Webhook endpoints, and the outbox the write path fills.
#[async_trait]
pub trait WebhookEndpoints: Send {
    /// The partner's enabled endpoints of `mode`.
    async fn webhook_subscriptions(&mut self, partner_id: &str, mode: Mode) -> Result<Vec<Subscription>>;
    /// Queues each message, due at `due`, if its endpoint is there and enabled when the write
    /// commits (the endpoints were read earlier: a concurrent write may have deleted or
    /// disabled one since). A message already queued for its endpoint and event (delivered or
    /// not) keeps its id and is due again, its three days counted from `due`.
    async fn enqueue_webhook_messages(&mut self, messages: &[WebhookMessage], due: Timestamp) -> Result<()>;
    async fn insert_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint, secrets: &WebhookSecrets) -> Result<()>;
    /// The endpoint of the scope's partner and mode, held against every other change.
    /// `NotFound` otherwise.
    async fn lock_webhook_endpoint(&mut self, scope: &Scope, id: &str) -> Result<(WebhookEndpoint, WebhookSecrets)>;
    /// Writes the endpoint's URL, events, description, disabled flag and `updated_at`; a
    /// disabled endpoint's queued messages are dropped (they stay in its deliveries).
    async fn update_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint) -> Result<()>;
    async fn set_webhook_secrets(&mut self, id: &str, secrets: &WebhookSecrets) -> Result<()>;
    /// Deletes the endpoint with its queue and deliveries.
    async fn delete_webhook_endpoint(&mut self, id: &str) -> Result<()>;
}

/// An attempt a node claimed from the outbox: what it needs to make it, and the claim that
/// lets it record the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedAttempt {
    pub webhook_id: String,
    pub endpoint_id: String,
    pub partner_id: String,
    pub mode: Mode,
    pub url: String,
    pub secrets: WebhookSecrets,
    /// None when the event was pruned before it could be delivered.
    pub event: Option<Event>,
    pub event_id: String,
    /// This attempt's number, 1 for the first.
    pub attempt: u32,
    /// When the message was queued (or queued again by a redelivery).
    pub queued_at: Timestamp,
    /// The claim: only its holder records the message's next step.
    pub lease: String,
}

/// How the outbox stands, for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookQueue {
    /// Messages not yet delivered nor given up.
    pub depth: u64,
    /// When the oldest of them was queued.
    pub oldest_queued_at: Option<Timestamp>,
}

/// The webhook outbox's reads and the delivery workers' claims, outside the write path.
#[async_trait]
pub trait Outbox: Send + Sync {
    async fn list_webhook_endpoints(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<WebhookEndpoint>>;
    async fn get_webhook_endpoint(&self, scope: &Scope, id: &str) -> Result<WebhookEndpoint>;
    /// The endpoint's attempts, newest first, paged by offset or cursor; not counted.
    async fn list_webhook_deliveries(&self, endpoint_id: &str, query: &ListQuery) -> Result<ListPage<WebhookDelivery>>;
    /// Claims up to `limit` messages due at `now`, each until `lease_until` under the claim
    /// `lease`: no other claim takes them before then, on any node.
    async fn claim_webhook_attempts(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        lease: &str,
        limit: u32,
    ) -> Result<Vec<ClaimedAttempt>>;
    /// Records an attempt (`delivery`, none for an event pruned before it went) and the
    /// message's next one (`None`: it is over), the latter only while `lease` still holds it.
    /// Whether it did.
    async fn finish_webhook_attempt(
        &self,
        webhook_id: &str,
        lease: &str,
        delivery: Option<&WebhookDelivery>,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<bool>;
    async fn webhook_queue(&self) -> Result<WebhookQueue>;
    /// Deletes up to `batch` of the webhook messages, and as many deliveries, made before
    /// `before` (retention, with the events they carried); how many.
    async fn prune_webhook_log(&self, before: Timestamp, batch: u32) -> Result<u64>;
}

/// At most this many of a partner's people whose names start with a search are looked through
/// for one organisation's members ([`Store::search_members`]): a search costs the same however
/// many people the partner has, and a longer search narrows it.
pub const NAMES_LOOKED_THROUGH: u32 = 10_000;

/// A console sign-in. The cookie's secret is kept only as its hash, and the secret keys the
/// session acts as (at most one per mode) only as their secrets' hashes, so each request checks
/// the key afresh: a revoked key ends its sessions at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id_hash: String,
    pub live_key_hash: Option<String>,
    pub test_key_hash: Option<String>,
    /// The mode it shows now.
    pub mode: Mode,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The console's sign-ins, outside the write path: they are not the partner's data and record
/// no event.
#[async_trait]
pub trait ConsoleSessions: Send + Sync {
    async fn insert_console_session(&self, session: &ConsoleSession) -> Result<()>;
    /// The session, unless it has expired by `now`.
    async fn console_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<ConsoleSession>>;
    /// Replaces its keys and mode (not its expiry); false when it is gone.
    async fn update_console_session(&self, session: &ConsoleSession) -> Result<bool>;
    async fn delete_console_session(&self, id_hash: &str) -> Result<()>;
    /// Deletes up to `batch` sessions expired by `now`; how many.
    async fn prune_console_sessions(&self, now: Timestamp, batch: u32) -> Result<u64>;
}

/// What went with a deleted organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemovedWithOrganisation {
    pub roles: Vec<Role>,
    /// Its keys that were not revoked before.
    pub keys: Vec<ApiKey>,
}

/// Partners, and the hold that keeps one from losing its last admin group.
#[async_trait]
pub trait Partners: Send {
    /// Holds the partner's row: the changes that could leave it without an admin group take
    /// turns on it. False when there is no such partner.
    async fn hold_partner(&mut self, partner_id: &str) -> Result<bool>;
    /// Holds the partners against another first start (until this transaction ends) and tells
    /// whether any partner exists.
    async fn hold_partners(&mut self) -> Result<bool>;
    /// Stores a partner with its admin group and that group's keys.
    async fn insert_partner(&mut self, partner: &ProvisionedPartner) -> Result<()>;
    /// The partner's oldest admin group, if it has one left.
    async fn oldest_admin_group(&mut self, partner_id: &str) -> Result<Option<String>>;
}

/// Partner groups and the organisations assigned to them.
#[async_trait]
pub trait Groups: Send {
    /// Whether the scope's partner has this group, holding it against deletion.
    async fn hold_group(&mut self, partner_id: &str, id: &str) -> Result<bool>;
    /// Assigns one more organisation to the group.
    async fn add_group_organisation(&mut self, group_id: &str, organisation_id: &str) -> Result<()>;
    /// Stores a new group (its organisations are assigned apart).
    async fn insert_group(&mut self, group: &PartnerGroup) -> Result<()>;
    /// The scope's partner's group, with its organisations of the scope's mode, held against
    /// other changes and its deletion (not against keys and organisations being added to it).
    /// `NotFound` when missing.
    async fn lock_group(&mut self, scope: &Scope, id: &str) -> Result<PartnerGroup>;
    /// Like `lock_group`, held also against keys and organisations being added to it, for
    /// deleting it.
    async fn lock_group_for_delete(&mut self, scope: &Scope, id: &str) -> Result<PartnerGroup>;
    /// Whether the partner has an admin group other than `except`.
    async fn other_admin_group(&mut self, partner_id: &str, except: &str) -> Result<bool>;
    /// Replaces the group's organisations of `mode` with `organisation_ids`.
    async fn assign_group_organisations(
        &mut self,
        group_id: &str,
        mode: Mode,
        organisation_ids: &[String],
    ) -> Result<()>;
    /// Writes a group's name, admin flag and `updated_at`.
    async fn update_group(&mut self, group: &PartnerGroup) -> Result<()>;
    /// Deletes the group; the keys it holds go with it. Those not revoked before, as they were.
    async fn delete_group(&mut self, id: &str) -> Result<Vec<ApiKey>>;
}

/// Organisations, and the holds that order changes to their memberships.
#[async_trait]
pub trait Organisations: Send {
    /// Whether the organisation is in scope, holding it against deletion and against the
    /// changes that count its members (`lock_membership`), so a member can be added to it.
    async fn hold_organisation_for_new_member(&mut self, scope: &Scope, organisation_id: &str) -> Result<bool>;
    /// Whether the organisation is in scope, holding it as `lock_membership` does: every other
    /// change to its memberships waits until this transaction ends.
    async fn lock_organisation(&mut self, scope: &Scope, organisation_id: &str) -> Result<bool>;
    /// Whether the organisation is in scope, holding it against deletion.
    async fn hold_organisation(&mut self, scope: &Scope, id: &str) -> Result<bool>;
    async fn insert_organisation(&mut self, organisation: &Organisation) -> Result<()>;
    /// The organisation as this transaction sees it. `NotFound` out of scope.
    async fn get_organisation(&mut self, scope: &Scope, id: &str) -> Result<Organisation>;
    /// Writes an organisation's name, settings and `updated_at`.
    async fn update_organisation(&mut self, organisation: &Organisation) -> Result<()>;
    /// Deletes up to `limit` of the organisation's memberships, the first by user id after
    /// `after_user_id`; those it deleted, as they were. The caller holds the organisation
    /// (`lock_organisation`), so none is added meanwhile, and calls again after the last user
    /// until none is left: an organisation of a million members is deleted a page at a time,
    /// never all in memory, each page found without passing the rows deleted before it.
    async fn delete_organisation_memberships(
        &mut self,
        organisation_id: &str,
        after_user_id: &str,
        limit: u32,
    ) -> Result<Vec<Membership>>;
    /// The groups the organisation is assigned to.
    async fn organisation_groups(&mut self, organisation_id: &str) -> Result<Vec<String>>;
    /// Deletes the organisation (after its memberships); its roles, keys and group assignments
    /// go with it. Its roles and its keys not revoked before, as they were.
    async fn delete_organisation(&mut self, id: &str) -> Result<RemovedWithOrganisation>;
    /// The positions in `organisation_ids` of those that are not organisations of the scope's
    /// partner and mode; the others are held against deletion.
    async fn missing_organisations(&mut self, scope: &Scope, organisation_ids: &[String]) -> Result<Vec<usize>>;
}

/// What an insert that gives way to an existing row did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted<T> {
    /// Stored, and read back as stored.
    Stored(T),
    /// Not stored: the id of the row already there.
    Existing(String),
}

/// Users, found by id or e-mail and held against changes.
#[async_trait]
pub trait Users: Send {
    /// Stores the user unless its partner and mode already have one with that e-mail (ignoring
    /// case); concurrent inserts of one e-mail store one user. The user as stored when this
    /// stored it (a row no other transaction can see or change until the commit), `None` when
    /// the e-mail was taken.
    async fn insert_user_unless_email_taken(&mut self, user: &User) -> Result<Option<User>>;
    /// The user of the partner and mode with this e-mail (ignoring case), held as `hold` says.
    async fn user_by_email(&mut self, scope: &Scope, email: &str, hold: UserHold) -> Result<Option<User>>;
    /// The user of the scope's partner and mode with this id, whatever organisations the scope
    /// reaches, held as `hold` says.
    async fn user_by_id(&mut self, scope: &Scope, id: &str, hold: UserHold) -> Result<Option<User>>;
    /// Holds the user's row against every other change until the transaction ends.
    async fn hold_user(&mut self, user_id: &str) -> Result<()>;
    /// The user in scope, held against every other change (membership creates hold it too, so
    /// none slips in between what this transaction reads and writes). `NotFound` out of scope.
    async fn lock_user(&mut self, scope: &Scope, id: &str) -> Result<User>;
    /// Whether a user of the scope's partner and mode other than `except` has this e-mail
    /// (ignoring case).
    async fn email_taken(&mut self, scope: &Scope, email: &str, except: &str) -> Result<bool>;
    /// Writes a user's e-mail, names, staff flag and `updated_at`; `UserAlreadyExists` when a
    /// concurrent write took the e-mail.
    async fn update_user(&mut self, user: &User) -> Result<()>;
    /// Whether the user is in scope.
    async fn user_in_scope(&mut self, scope: &Scope, id: &str) -> Result<bool>;
    /// Stores a new user; `UserAlreadyExists` when its partner and mode have its e-mail.
    async fn insert_user(&mut self, user: &User) -> Result<()>;
}

/// Custom roles of an organisation.
#[async_trait]
pub trait Roles: Send {
    /// The positions in `role_ids` of those that are not roles of the organisation.
    async fn missing_roles(&mut self, organisation_id: &str, role_ids: &[String]) -> Result<Vec<usize>>;
    /// The role in scope, held against every other change, with its organisation held as
    /// `lock_organisation` does (taken first: the order every lock taker follows). `NotFound`
    /// out of scope.
    async fn lock_role(&mut self, scope: &Scope, id: &str) -> Result<Role>;
    /// Whether a role of the organisation other than `except` has this name.
    async fn role_name_taken(&mut self, organisation_id: &str, name: &str, except: &str) -> Result<bool>;
    /// Stores a new role; `RoleAlreadyExists` when its organisation has its name.
    async fn insert_role(&mut self, role: &Role) -> Result<()>;
    /// Writes a role's name, permissions and `updated_at`; `RoleAlreadyExists` as above.
    async fn update_role(&mut self, role: &Role) -> Result<()>;
    /// Deletes the role and takes it out of its organisation's memberships' `role_ids`; the
    /// memberships it changed, each with its `role_ids` before.
    async fn delete_role(&mut self, role: &Role, now: Timestamp) -> Result<Vec<(String, Vec<String>)>>;
}

/// API keys.
#[async_trait]
pub trait Keys: Send {
    async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> Result<()>;
    /// The key in scope. `NotFound` out of scope.
    async fn get_api_key(&mut self, scope: &Scope, id: &str) -> Result<ApiKey>;
    /// Revokes the key at `now`, unless it already is.
    async fn revoke_api_key(&mut self, id: &str, now: Timestamp) -> Result<()>;
}

/// Memberships, and the counts rules 1–2 are decided with.
#[async_trait]
pub trait Memberships: Send {
    /// The id of the user's membership in the organisation, if it has one.
    async fn membership_id(&mut self, organisation_id: &str, user_id: &str) -> Result<Option<String>>;
    /// Whether the user has memberships, and whether one lies outside `scope`.
    async fn membership_reach(&mut self, scope: &Scope, user_id: &str) -> Result<(bool, bool)>;
    /// Stores a new membership and answers it as stored, with its user and organisation; or,
    /// when the organisation already has one for this user, stores nothing and answers its id.
    async fn insert_membership(&mut self, membership: &Membership) -> Result<Inserted<Membership>>;
    /// The membership, read after taking its organisation's lock, so that no other transaction
    /// changes that organisation's memberships until this one ends. `NotFound` out of scope.
    async fn lock_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership>;
    /// The membership as this transaction sees it now. `NotFound` out of scope.
    async fn get_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership>;
    /// Accepted memberships of the organisation other than `except`, counted by role and owner.
    async fn tally(&mut self, organisation_id: &str, except: &str) -> Result<rules::OrgTally>;
    /// Writes a membership's status, settings and `updated_at`; the membership as stored, which
    /// is what every later read returns (PostgreSQL orders metadata keys its own way).
    async fn update_membership(&mut self, membership: &Membership) -> Result<Membership>;
    /// Clears `is_default` on the user's memberships other than `except`; the ids of those it
    /// changed.
    async fn clear_other_defaults(&mut self, user_id: &str, except: &str, now: Timestamp) -> Result<Vec<String>>;
    async fn delete_membership(&mut self, id: &str) -> Result<()>;
}

#[async_trait]
pub trait Store: Outbox + ConsoleSessions + Send + Sync + 'static {
    /// Answers when the database does.
    async fn ping(&self) -> Result<()>;

    /// Opens a write transaction. Writes are serialised or locked per row as the backend
    /// allows; a transaction the database asks to retry fails with `Contention`.
    async fn begin(&self) -> Result<Box<dyn Transaction>>;

    fn pool_status(&self) -> PoolStatus;

    async fn list_partners(&self, query: &ListQuery) -> Result<ListPage<Partner>>;
    async fn get_partner(&self, id: &str) -> Result<Partner>;

    async fn list_groups(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<PartnerGroup>>;
    async fn get_group(&self, scope: &Scope, id: &str) -> Result<PartnerGroup>;
    async fn list_organisations(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<Organisation>>;
    /// The scope's organisations whose names start with `prefix` (ASCII letters in any case), in
    /// that order, at most `limit`.
    async fn search_organisations(&self, scope: &Scope, prefix: &str, limit: u32) -> Result<Vec<Organisation>>;
    async fn get_organisation(&self, scope: &Scope, id: &str) -> Result<Organisation>;

    async fn list_users(&self, scope: &Scope, email: Option<&str>, query: &ListQuery) -> Result<ListPage<User>>;
    async fn get_user(&self, scope: &Scope, id: &str) -> Result<User>;
    /// Any user by id, whatever its partner: for authenticating users, not for serving reads.
    async fn find_user(&self, id: &str) -> Result<Option<User>>;

    async fn list_roles(
        &self,
        scope: &Scope,
        organisation_id: Option<&str>,
        query: &ListQuery,
    ) -> Result<ListPage<Role>>;
    async fn get_role(&self, scope: &Scope, id: &str) -> Result<Role>;
    /// The permissions of the organisation's roles among `role_ids`.
    async fn role_permissions(&self, organisation_id: &str, role_ids: &[String]) -> Result<Vec<String>>;

    async fn list_api_keys(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<ApiKey>>;
    async fn get_api_key(&self, scope: &Scope, id: &str) -> Result<ApiKey>;
    /// The key whose secret hashes to `secret_hash`, revoked or not: the caller decides.
    async fn find_api_key(&self, secret_hash: &str) -> Result<Option<KeyCredential>>;
    async fn touch_api_key(&self, id: &str, now: Timestamp) -> Result<()>;

    /// The memberships of `organisation_id` in `scope` whose people's names (`first last`)
    /// start with `prefix` (ASCII letters in any case), of the statuses and roles `filter`
    /// names (its other conditions are not read), in name order, at most `limit`; found among
    /// the first [`NAMES_LOOKED_THROUGH`] of the partner's people with such names.
    async fn search_members(
        &self,
        scope: &Scope,
        organisation_id: &str,
        prefix: &str,
        filter: &MembershipFilter,
        limit: u32,
    ) -> Result<Vec<Membership>>;

    async fn list_memberships(
        &self,
        scope: &Scope,
        filter: &MembershipFilter,
        query: &ListQuery,
    ) -> Result<ListPage<Membership>>;
    async fn get_membership(&self, scope: &Scope, id: &str) -> Result<Membership>;
    /// The events of one object in the scope's partner and mode (and organisations, for events
    /// of objects in an organisation), newest first (by `sequence`), paged by offset or cursor.
    async fn list_object_events(&self, scope: &Scope, object_id: &str, query: &ListQuery) -> Result<ListPage<Event>>;
    /// A page of the events in the scope (partner, mode, and organisations for events of
    /// objects in one) that `filter` holds, newest first by `sequence`, paged by cursor or
    /// offset. Not counted (`count` is 0): a count would cost what a page must not.
    async fn list_events(&self, scope: &Scope, filter: &EventFilter, query: &ListQuery) -> Result<ListPage<Event>>;
    /// One event in the scope, of one of `resources` (all when `None`); `NotFound` otherwise.
    async fn get_event(&self, scope: &Scope, resources: Option<&[String]>, id: &str) -> Result<Event>;
    /// Deletes up to `batch` of the events created before `before`, oldest first; how many.
    async fn prune_events(&self, before: Timestamp, batch: u32) -> Result<u64>;
    /// The object's newest event created at or before `at`, in the scope as
    /// `list_object_events` reads them.
    async fn object_event_at(&self, scope: &Scope, object_id: &str, at: Timestamp) -> Result<Option<Event>>;
    /// The membership of `user_id` in `organisation_id`, if it has one, with what its roles
    /// grant: indexed reads in one round trip to the store, without the count a list pays for
    /// (this is `/v1/check`'s whole read). `NotFound` when the organisation is missing or out
    /// of scope.
    async fn find_membership(
        &self,
        scope: &Scope,
        organisation_id: &str,
        user_id: &str,
    ) -> Result<Option<MembershipAccess>>;
}
