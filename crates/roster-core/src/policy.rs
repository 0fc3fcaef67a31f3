//! Who may do what. A handler asks the caller's [`Principal`] for a [`Scope`] naming the
//! resource and access it needs; it gets one only when the caller is allowed, and every storage
//! call takes that scope, so out-of-scope objects behave exactly like missing ones.

use crate::{
    Error, Field, ValidationCode,
    error::Result,
    model::{KeyHolder, KeyType, Mode},
    time::Timestamp,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Memberships,
    Organisations,
    Users,
    Roles,
    ApiKeys,
    PartnerGroups,
    /// Where the partner's events are sent: every event of a mode, so admin-group keys alone.
    WebhookEndpoints,
}

impl Resource {
    const ALL: [Resource; 7] = [
        Self::Memberships,
        Self::Organisations,
        Self::Users,
        Self::Roles,
        Self::ApiKeys,
        Self::PartnerGroups,
        Self::WebhookEndpoints,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Memberships => "memberships",
            Self::Organisations => "organisations",
            Self::Users => "users",
            Self::Roles => "roles",
            Self::ApiKeys => "api_keys",
            Self::PartnerGroups => "partner_groups",
            Self::WebhookEndpoints => "webhook_endpoints",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
}

/// What a partner or organisation key may do: `*`, or one access to one resource. Write does
/// not imply read: a key holds exactly the abilities it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ability {
    All,
    Grant(Resource, Access),
}

impl Ability {
    pub fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::All);
        }
        let (resource, access) = text.split_once(':')?;
        let resource = Resource::ALL.into_iter().find(|r| r.as_str() == resource)?;
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return None,
        };
        Some(Self::Grant(resource, access))
    }

    pub fn to_wire(self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Grant(resource, Access::Read) => format!("{}:read", resource.as_str()),
            Self::Grant(resource, Access::Write) => format!("{}:write", resource.as_str()),
        }
    }

    /// Every ability a key may name, for error messages and documentation.
    pub fn choices() -> Vec<String> {
        let mut all = vec!["*".to_owned()];
        for resource in Resource::ALL {
            for access in [Access::Read, Access::Write] {
                all.push(Self::Grant(resource, access).to_wire());
            }
        }
        all
    }
}

pub fn allows(abilities: &[Ability], resource: Resource, access: Access) -> bool {
    abilities.iter().any(|a| *a == Ability::All || *a == Ability::Grant(resource, access))
}

/// A key may only hand on what it holds itself.
pub fn covers(held: &[Ability], requested: &[Ability]) -> bool {
    requested.iter().all(|wanted| match wanted {
        Ability::All => held.contains(&Ability::All),
        Ability::Grant(resource, access) => allows(held, *resource, *access),
    })
}

/// The caller of a request, once its credentials have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator's master key: partner management only.
    Master,
    Key(KeyPrincipal),
    /// A user acting for itself, through a user token or a JWT.
    User(UserPrincipal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    pub user_id: String,
    pub partner_id: String,
    pub mode: Mode,
    /// The prefix of the user token it acts through; none for a JWT.
    pub token_prefix: Option<String>,
}

impl UserPrincipal {
    /// The user's partner and mode, organisation-wide: every use must also filter to the user's
    /// own memberships, which is what the self-service store calls do.
    pub fn scope(&self) -> Scope {
        Scope { partner_id: self.partner_id.clone(), mode: self.mode, orgs: OrgScope::All }
    }

    /// The scope of a user managing or reading memberships (spec §3): the organisations where its
    /// accepted membership's effective permissions allow it, which the caller found.
    pub fn member_scope(&self, organisation_ids: Vec<String>) -> Scope {
        Scope { partner_id: self.partner_id.clone(), mode: self.mode, orgs: OrgScope::Organisations(organisation_ids) }
    }
}

/// The permission a user's membership must grant for `access` to its organisation's memberships.
pub fn membership_permission(access: Access) -> &'static str {
    match access {
        Access::Read => "memberships:read",
        Access::Write => "memberships:write",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrincipal {
    pub key_id: String,
    /// The first characters of its secret, as the key shows them.
    pub key_prefix: String,
    pub partner_id: String,
    pub mode: Mode,
    pub key_type: KeyType,
    pub holder: Holder,
    pub abilities: Vec<Ability>,
    pub expires_at: Option<Timestamp>,
}

/// A key's holder, with what scope resolution needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Group { id: String, is_admin: bool },
    Organisation { id: String },
}

impl Holder {
    pub fn as_key_holder(&self) -> KeyHolder {
        match self {
            Self::Group { id, .. } => KeyHolder::Group(id.clone()),
            Self::Organisation { id } => KeyHolder::Organisation(id.clone()),
        }
    }
}

/// Which organisations a caller reaches, inside one partner and one mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgScope {
    /// An admin group: every organisation of the partner.
    All,
    /// A non-admin group: the organisations assigned to it.
    Group(String),
    /// An organisation key: its one organisation.
    Organisation(String),
    /// A user acting on memberships: the organisations where its own accepted membership grants
    /// the access asked for (possibly none).
    Organisations(Vec<String>),
}

/// What a caller reaches: one partner, one mode, and some of its organisations. It is obtained
/// from the policy only ([`Principal::key_scope`], [`UserPrincipal::scope`],
/// [`UserPrincipal::member_scope`]), so holding one means the policy allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    partner_id: String,
    mode: Mode,
    orgs: OrgScope,
}

impl Scope {
    pub fn partner_id(&self) -> &str {
        &self.partner_id
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn orgs(&self) -> &OrgScope {
        &self.orgs
    }

    /// The same partner and mode, every organisation: for checking that an id names something of
    /// the partner at all (a group's organisations, a user by id), never for serving reads.
    pub fn partner_wide(&self) -> Self {
        Self { orgs: OrgScope::All, ..self.clone() }
    }

    /// The whole of a partner's mode, for what Roster does there itself rather than for a
    /// caller (the webhook worker disabling an endpoint that failed for three days).
    pub fn of_partner(partner_id: impl Into<String>, mode: Mode) -> Self {
        Self { partner_id: partner_id.into(), mode, orgs: OrgScope::All }
    }

    /// A scope made by hand, for tests and tools that act as the store's own operator.
    #[cfg(any(test, feature = "testing"))]
    pub fn for_tests(partner_id: impl Into<String>, mode: Mode, orgs: OrgScope) -> Self {
        Self { partner_id: partner_id.into(), mode, orgs }
    }

    /// Whether a key of this scope may issue keys held by the group: an admin group's reaches
    /// every group of the partner, a non-admin group's only itself, an organisation's none.
    pub fn reaches_group(&self, group_id: &str) -> bool {
        match &self.orgs {
            OrgScope::All => true,
            OrgScope::Group(own) => own == group_id,
            OrgScope::Organisation(_) | OrgScope::Organisations(_) => false,
        }
    }
}

impl Principal {
    /// Partner management is for the master key alone; any other credential is not valid there.
    pub fn require_master(&self) -> Result<()> {
        match self {
            Self::Master => Ok(()),
            Self::Key(_) | Self::User(_) => Err(Error::Unauthorised),
        }
    }

    /// Whether the acting credential is the key `key_id`.
    pub fn is_key(&self, key_id: &str) -> bool {
        matches!(self, Self::Key(key) if key.key_id == key_id)
    }

    /// Whether the acting credential is a key held by the partner group `group_id`.
    pub fn is_held_by_group(&self, group_id: &str) -> bool {
        matches!(self, Self::Key(KeyPrincipal { holder: Holder::Group { id, .. }, .. }) if id == group_id)
    }

    /// What a key minted by this caller may be (spec §3, "keys never widen their holder's
    /// reach"): a user token reaches every organisation of its user, so only admin-group keys
    /// issue them; abilities must be the caller's own; and the new key expires no later than the
    /// caller does, by default when it does. Returns the new key's expiry.
    pub fn mint(
        &self,
        key_type: KeyType,
        abilities: &[Ability],
        expires_at: Option<Timestamp>,
    ) -> Result<Option<Timestamp>> {
        let Self::Key(minter) = self else {
            return Err(Error::Unauthorised);
        };
        let admin = matches!(minter.holder, Holder::Group { is_admin: true, .. });
        if (key_type == KeyType::UserToken && !admin) || !covers(&minter.abilities, abilities) {
            return Err(Error::Forbidden);
        }
        match (expires_at, minter.expires_at) {
            (Some(wanted), Some(limit)) if wanted > limit => Err(Error::field(
                Field::ExpiresAt,
                ValidationCode::OutOfRange,
                format!("must not be after {}, when the key creating it expires", limit.to_rfc3339()),
            )),
            (wanted, limit) => Ok(wanted.or(limit)),
        }
    }

    /// Self-service (`/v1/me`) is for users; keys and the master key are not users.
    pub fn require_user(&self) -> Result<&UserPrincipal> {
        match self {
            Self::User(user) => Ok(user),
            Self::Master | Self::Key(_) => Err(Error::Unauthorised),
        }
    }

    /// The scope in which a key may use `resource` with `access`, or why it may not: publishable
    /// keys never reach membership data (403), a key uses only the abilities it holds (403), and
    /// partner groups and webhook endpoints are managed by admin-group keys alone (403). Users and
    /// the master key are not keys (401); users reach memberships through
    /// [`UserPrincipal::member_scope`].
    pub fn key_scope(&self, resource: Resource, access: Access) -> Result<Scope> {
        let Self::Key(key) = self else {
            return Err(Error::Unauthorised);
        };
        if key.key_type == KeyType::Publishable || !allows(&key.abilities, resource, access) {
            return Err(Error::Forbidden);
        }
        let orgs = match &key.holder {
            Holder::Group { is_admin: true, .. } => OrgScope::All,
            Holder::Group { id, is_admin: false } => OrgScope::Group(id.clone()),
            Holder::Organisation { id } => OrgScope::Organisation(id.clone()),
        };
        if matches!(resource, Resource::PartnerGroups | Resource::WebhookEndpoints) && orgs != OrgScope::All {
            return Err(Error::Forbidden);
        }
        Ok(Scope { partner_id: key.partner_id.clone(), mode: key.mode, orgs })
    }

    /// Whether the caller is an organisation key: such keys neither create nor delete
    /// organisations, and the native memberships API is closed to them.
    pub fn is_organisation_key(&self) -> bool {
        matches!(self, Self::Key(KeyPrincipal { holder: Holder::Organisation { .. }, .. }))
    }

    /// The organisation an organisation key belongs to.
    pub fn key_organisation(&self) -> Option<&str> {
        match self {
            Self::Key(KeyPrincipal { holder: Holder::Organisation { id }, .. }) => Some(id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(holder: Holder, key_type: KeyType, abilities: &[&str]) -> Principal {
        Principal::Key(KeyPrincipal {
            key_id: "key_1".into(),
            key_prefix: "sk_live_1".into(),
            partner_id: "ptn_1".into(),
            mode: Mode::Live,
            key_type,
            holder,
            abilities: abilities.iter().filter_map(|a| Ability::parse(a)).collect(),
            expires_at: None,
        })
    }

    fn admin() -> Holder {
        Holder::Group { id: "grp_a".into(), is_admin: true }
    }

    #[test]
    fn abilities_round_trip_and_unknown_ones_are_refused() {
        for text in Ability::choices() {
            assert_eq!(Ability::parse(&text).map(Ability::to_wire), Some(text));
        }
        assert_eq!(Ability::parse("memberships:delete"), None);
        assert_eq!(Ability::parse("widgets:read"), None);
    }

    #[test]
    fn a_key_cannot_hand_on_what_it_lacks() {
        let read = [Ability::Grant(Resource::Users, Access::Read)];
        assert!(covers(&[Ability::All], &[Ability::All]));
        assert!(covers(&[Ability::All], &read));
        assert!(covers(&read, &read));
        assert!(!covers(&read, &[Ability::All]));
        assert!(!covers(&read, &[Ability::Grant(Resource::Users, Access::Write)]));
    }

    #[test]
    fn only_admin_group_keys_mint_user_tokens_and_no_key_outlives_its_minter() {
        let member = key(Holder::Group { id: "grp_b".into(), is_admin: false }, KeyType::Secret, &["*"]);
        let org = key(Holder::Organisation { id: "org_1".into() }, KeyType::Secret, &["*"]);
        for minter in [&member, &org] {
            assert_eq!(minter.mint(KeyType::UserToken, &[], None), Err(Error::Forbidden));
            assert_eq!(minter.mint(KeyType::Secret, &[Ability::All], None), Ok(None));
        }
        let Principal::Key(mut admin_key) = key(admin(), KeyType::Secret, &["*"]) else { unreachable!() };
        admin_key.expires_at = Some(Timestamp(1_000));
        let admin_key = Principal::Key(admin_key);
        assert_eq!(admin_key.mint(KeyType::UserToken, &[], None), Ok(Some(Timestamp(1_000))));
        assert_eq!(admin_key.mint(KeyType::Secret, &[], Some(Timestamp(999))), Ok(Some(Timestamp(999))));
        let too_late = admin_key.mint(KeyType::Secret, &[], Some(Timestamp(1_001)));
        assert!(matches!(too_late, Err(Error::Validation(ref errors)) if errors[0].field == Field::ExpiresAt));
    }

    #[test]
    fn organisation_keys_are_scoped_to_their_organisation() {
        let org = key(Holder::Organisation { id: "org_1".into() }, KeyType::Secret, &["*"]);
        assert!(org.is_organisation_key());
        for resource in [Resource::Memberships, Resource::Organisations] {
            let scope = org.key_scope(resource, Access::Read);
            assert_eq!(scope.map(|s| s.orgs().clone()), Ok(OrgScope::Organisation("org_1".into())));
        }
    }

    #[test]
    fn publishable_keys_and_missing_abilities_are_forbidden() {
        let pk = key(admin(), KeyType::Publishable, &["*"]);
        assert_eq!(pk.key_scope(Resource::Memberships, Access::Read), Err(Error::Forbidden));
        let reader = key(admin(), KeyType::Secret, &["memberships:read"]);
        assert!(reader.key_scope(Resource::Memberships, Access::Read).is_ok());
        assert_eq!(reader.key_scope(Resource::Memberships, Access::Write), Err(Error::Forbidden));
    }

    #[test]
    fn only_admin_groups_manage_groups_and_only_the_master_manages_partners() {
        let member = key(Holder::Group { id: "grp_b".into(), is_admin: false }, KeyType::Secret, &["*"]);
        assert_eq!(member.key_scope(Resource::PartnerGroups, Access::Read), Err(Error::Forbidden));
        assert!(key(admin(), KeyType::Secret, &["*"]).key_scope(Resource::PartnerGroups, Access::Read).is_ok());
        assert_eq!(member.key_scope(Resource::WebhookEndpoints, Access::Read), Err(Error::Forbidden));
        assert!(key(admin(), KeyType::Secret, &["*"]).key_scope(Resource::WebhookEndpoints, Access::Write).is_ok());
        assert_eq!(member.require_master(), Err(Error::Unauthorised));
        assert_eq!(Principal::Master.key_scope(Resource::Memberships, Access::Read), Err(Error::Unauthorised));
        assert_eq!(Principal::Master.require_master(), Ok(()));
    }
}
