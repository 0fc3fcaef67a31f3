//! The objects Roster manages, as the core sees them. Wire shapes live in the HTTP crate.

use serde_json::{Map, Value};

use crate::time::Timestamp;

/// Live and test data never mix: every object but partners and groups lives in one mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    pub fn is_live(self) -> bool {
        self == Self::Live
    }

    pub fn from_live(livemode: bool) -> Self {
        if livemode { Self::Live } else { Self::Test }
    }
}

/// Declares a closed set of wire strings with parsing and rendering in one place.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const CHOICES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

choice!(MembershipRole { Admin = "ADMIN", Standard = "STANDARD" });
choice!(MembershipStatus { Pending = "pending", Accepted = "accepted", Rejected = "rejected" });
choice!(AccessScope { LiveAccess = "live_access", TestAccess = "test_access", FullAccess = "full_access" });
choice!(KeyType { Secret = "secret", Publishable = "publishable", UserToken = "user_token" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerGroup {
    pub id: String,
    pub partner_id: String,
    pub name: String,
    pub is_admin: bool,
    /// The assigned organisations of the reader's mode only: modes never mix.
    pub organisation_ids: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationSettings {
    pub enforce_twofactor: bool,
    pub abuse_contact_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: String,
    pub partner_id: String,
    pub mode: Mode,
    pub name: String,
    pub settings: OrganisationSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub partner_id: String,
    pub mode: Mode,
    pub email: String,
    /// None for a user invited by e-mail alone, through a dialect that takes no names.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_staff: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Who holds an API key, and so what it may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHolder {
    Group(String),
    Organisation(String),
    /// A user token acts as the user.
    User(String),
}

impl KeyHolder {
    /// The holder as (`partner_group_id`, `organisation_id`, `user_id`), exactly one set.
    pub fn ids(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        match self {
            Self::Group(id) => (Some(id), None, None),
            Self::Organisation(id) => (None, Some(id), None),
            Self::User(id) => (None, None, Some(id)),
        }
    }

    pub fn from_ids(group: Option<String>, organisation: Option<String>, user: Option<String>) -> Option<Self> {
        match (group, organisation, user) {
            (Some(id), None, None) => Some(Self::Group(id)),
            (None, Some(id), None) => Some(Self::Organisation(id)),
            (None, None, Some(id)) => Some(Self::User(id)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub partner_id: String,
    pub mode: Mode,
    pub name: String,
    pub key_type: KeyType,
    pub holder: KeyHolder,
    pub abilities: Vec<crate::policy::Ability>,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The first characters of the secret, safe to show, so a person can tell keys apart.
    pub prefix: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The alert and evidence e-mail preferences of a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notifications {
    pub alert_action_required: bool,
    pub alert_resolved: bool,
    pub alert_dismissed: bool,
    pub evidence_requested: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Self { alert_action_required: true, alert_resolved: true, alert_dismissed: true, evidence_requested: true }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: String,
    pub partner_id: String,
    pub mode: Mode,
    pub organisation_id: String,
    /// The organisation's, joined in when read.
    pub organisation_name: String,
    pub user_id: String,
    /// The user's, joined in when read.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: String,
    pub settings: MembershipSettings,
    pub status: MembershipStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Membership {
    /// The user's first and last names joined by a space; `None` when it has neither.
    pub fn user_full_name(&self) -> Option<String> {
        let names: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .collect();
        (!names.is_empty()).then(|| names.join(" "))
    }
}

/// Everything about a membership that its managers may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipSettings {
    pub role: MembershipRole,
    pub role_ids: Vec<String>,
    pub permissions: Vec<String>,
    pub is_owner: bool,
    pub is_default: bool,
    pub allowed_ips: Vec<String>,
    pub api_access_enabled: bool,
    pub access_scope: AccessScope,
    pub test_enabled: bool,
    pub notifications: Notifications,
    pub reference: Option<String>,
    pub reference_origin: Option<String>,
    pub metadata: Map<String, Value>,
}

impl MembershipSettings {
    pub fn new(role: MembershipRole) -> Self {
        Self {
            role,
            role_ids: Vec::new(),
            permissions: Vec::new(),
            is_owner: false,
            is_default: false,
            allowed_ips: Vec::new(),
            api_access_enabled: true,
            access_scope: AccessScope::LiveAccess,
            test_enabled: false,
            notifications: Notifications::default(),
            reference: None,
            reference_origin: None,
            metadata: Map::new(),
        }
    }
}

/// A custom role of one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub partner_id: String,
    pub mode: Mode,
    pub organisation_id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The two built-in roles: valid in every organisation, never stored, never changed. They are
/// what a membership's `role` (ADMIN, STANDARD) grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRole {
    pub id: &'static str,
    pub name: &'static str,
    pub role: MembershipRole,
    pub permissions: &'static [&'static str],
}

pub const BUILTIN_ROLES: [BuiltinRole; 2] = [
    BuiltinRole { id: "role_admin", name: "Admin", role: MembershipRole::Admin, permissions: &["*"] },
    BuiltinRole { id: "role_standard", name: "Standard", role: MembershipRole::Standard, permissions: &["*:read"] },
];

impl BuiltinRole {
    pub fn find(id: &str) -> Option<Self> {
        BUILTIN_ROLES.into_iter().find(|role| role.id == id)
    }

    /// The built-in role a membership's `role` is.
    pub fn of(role: MembershipRole) -> Self {
        let [admin, standard] = BUILTIN_ROLES;
        match role {
            MembershipRole::Admin => admin,
            MembershipRole::Standard => standard,
        }
    }
}

choice!(ActorKind { Key = "key", User = "user", Master = "master", System = "system" });

/// Who made a write: a key (`id` the key's, `key_prefix` its prefix), a user (`id` the user's,
/// `key_prefix` its token's, none for a JWT), the master key (neither) or Roster itself (neither:
/// a webhook endpoint disabled after three days of failures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub key_prefix: Option<String>,
}

/// One committed change to one object (spec §9): immutable once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub partner_id: String,
    pub mode: Mode,
    /// `RESOURCE.ACTION`, e.g. `membership.updated`.
    pub kind: String,
    pub object_id: String,
    /// The organisation the object is or belongs to, which scopes who sees the event.
    pub organisation_id: Option<String>,
    pub actor: Actor,
    pub request_id: String,
    /// The object after the write (before it, for a delete), in the native wire shape.
    pub object: Value,
    /// The old values of the fields an update changed; none for creates and deletes.
    pub previous_attributes: Option<Value>,
    /// Increases with commit order within the partner; given by the store when appended.
    pub sequence: i64,
    pub created_at: Timestamp,
}

/// Where a partner's events of one mode are sent (spec §9). Its signing secrets are kept apart
/// ([`WebhookSecrets`]) and shown only when made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub partner_id: String,
    pub mode: Mode,
    pub url: String,
    /// Types, `RESOURCE.*` or `*`.
    pub enabled_events: Vec<String>,
    pub description: String,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The secrets an endpoint's deliveries are signed with: the current one, and the one it
/// replaced until `previous_expires_at` (both sign meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    pub current: String,
    pub previous: Option<String>,
    pub previous_expires_at: Option<Timestamp>,
}

impl WebhookSecrets {
    /// The secrets that sign at `now`, the current one first.
    pub fn signing(&self, now: Timestamp) -> Vec<&str> {
        let mut signing = vec![self.current.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous, self.previous_expires_at)
            && now < until
        {
            signing.push(previous);
        }
        signing
    }
}

/// One attempt to deliver an event to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    /// The same for every attempt of one event to one endpoint (`webhook-id`).
    pub webhook_id: String,
    pub attempt: u32,
    pub succeeded: bool,
    /// None when no answer came (refused, timed out).
    pub response_status: Option<u16>,
    pub latency_ms: u64,
    pub next_retry_at: Option<Timestamp>,
    pub created_at: Timestamp,
}
