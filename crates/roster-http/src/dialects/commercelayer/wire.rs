//! commercelayer's resource objects (spec §7), rendered from the core's: a membership exactly as
//! the reference's example (its twelve attributes, its five relationships with absolute links),
//! its organization and role, and the documents that carry them.

use roster_core::model::{
    AccessScope, BuiltinRole, Event, Membership, MembershipRole, MembershipStatus, Organisation, Role,
};
use serde_json::{Map, Value, json};

use super::query::{Fieldsets, Include, Shape};

const MEMBERSHIPS: &str = "memberships";
const ORGANIZATIONS: &str = "organizations";
const ROLES: &str = "roles";

const MEMBERSHIP_ATTRIBUTES: [&str; 12] = [
    "user_email",
    "user_first_name",
    "user_last_name",
    "status",
    "owner",
    "test_enabled",
    "access_scope",
    "created_at",
    "updated_at",
    "reference",
    "reference_origin",
    "metadata",
];
const RELATIONSHIPS: [&str; 5] = ["organization", "role", "application_memberships", "membership_profile", "versions"];
const ORGANIZATION_MEMBERS: [&str; 3] = ["name", "created_at", "updated_at"];
const ROLE_MEMBERS: [&str; 4] = ["name", "kind", "created_at", "updated_at"];

/// The attributes and relationships a resource type has, for sparse fieldsets.
pub fn members_of(kind: &str) -> Option<Vec<&'static str>> {
    match kind {
        MEMBERSHIPS => Some(MEMBERSHIP_ATTRIBUTES.into_iter().chain(RELATIONSHIPS).collect()),
        ORGANIZATIONS => Some(ORGANIZATION_MEMBERS.to_vec()),
        ROLES => Some(ROLE_MEMBERS.to_vec()),
        _ => None,
    }
}

/// `accepted` is `active` here; the others keep their names.
pub fn status_name(status: MembershipStatus) -> &'static str {
    match status {
        MembershipStatus::Pending => "pending",
        MembershipStatus::Accepted => "active",
        MembershipStatus::Rejected => "rejected",
    }
}

pub fn status_named(name: &str) -> Option<MembershipStatus> {
    [MembershipStatus::Pending, MembershipStatus::Accepted, MembershipStatus::Rejected]
        .into_iter()
        .find(|status| status_name(*status) == name)
}

/// `full_access` is `all_access` here.
pub fn access_scope_name(scope: AccessScope) -> &'static str {
    match scope {
        AccessScope::LiveAccess => "live_access",
        AccessScope::TestAccess => "test_access",
        AccessScope::FullAccess => "all_access",
    }
}

pub const ACCESS_SCOPES: &[&str] = &["live_access", "test_access", "all_access"];

pub fn access_scope_named(name: &str) -> Option<AccessScope> {
    [AccessScope::LiveAccess, AccessScope::TestAccess, AccessScope::FullAccess]
        .into_iter()
        .find(|scope| access_scope_name(*scope) == name)
}

/// A membership's role as this API shows it: its first custom role, else the built-in role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleOf {
    Builtin(BuiltinRole),
    Custom(String),
}

/// The custom role a membership shows: its first.
pub fn custom_role_of(membership: &Membership) -> Option<&str> {
    membership.settings.role_ids.first().map(String::as_str)
}

impl RoleOf {
    pub fn of(membership: &Membership) -> Self {
        match custom_role_of(membership) {
            Some(id) => Self::Custom(id.to_owned()),
            None => Self::Builtin(BuiltinRole::of(membership.settings.role)),
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Builtin(role) => role.id,
            Self::Custom(id) => id,
        }
    }
}

/// Where this API lives for the request: `{origin}/compat/commercelayer/api`.
#[derive(Debug, Clone)]
pub struct Links {
    pub api: String,
}

impl Links {
    pub fn new(origin: &str) -> Self {
        Self { api: format!("{origin}/compat/commercelayer/api") }
    }

    pub fn membership(&self, id: &str) -> String {
        format!("{}/memberships/{id}", self.api)
    }

    pub fn collection(&self) -> String {
        format!("{}/memberships", self.api)
    }

    fn relationship(&self, id: &str, name: &str) -> Value {
        json!({
            "self": format!("{}/relationships/{name}", self.membership(id)),
            "related": format!("{}/{name}", self.membership(id)),
        })
    }
}

/// `members` without those a sparse fieldset of `kind` leaves out.
fn sparse(kind: &str, fields: &Fieldsets, members: Vec<(&'static str, Value)>) -> Map<String, Value> {
    members
        .into_iter()
        .filter(|(name, _)| fields.shows(kind, name))
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// The resource identifier of a relationship, as linkage.
pub fn linkage(membership: &Membership, relationship: &str) -> Value {
    match relationship {
        "organization" => json!({"type": ORGANIZATIONS, "id": membership.organisation_id}),
        "role" => json!({"type": ROLES, "id": RoleOf::of(membership).id()}),
        "application_memberships" => json!([]),
        _ => Value::Null,
    }
}

pub fn membership(membership: &Membership, links: &Links, shape: &Shape) -> Value {
    let settings = &membership.settings;
    let values = [
        json!(membership.email),
        json!(membership.first_name),
        json!(membership.last_name),
        json!(status_name(membership.status)),
        json!(settings.is_owner),
        json!(settings.test_enabled),
        json!(access_scope_name(settings.access_scope)),
        json!(membership.created_at.to_rfc3339()),
        json!(membership.updated_at.to_rfc3339()),
        json!(settings.reference),
        json!(settings.reference_origin),
        Value::Object(settings.metadata.clone()),
    ];
    let attributes = sparse(MEMBERSHIPS, &shape.fields, MEMBERSHIP_ATTRIBUTES.into_iter().zip(values).collect());
    let included = |name: &str| match name {
        "organization" => shape.include.organization,
        "role" => shape.include.role,
        _ => false,
    };
    let relationships = sparse(
        MEMBERSHIPS,
        &shape.fields,
        RELATIONSHIPS
            .into_iter()
            .map(|name| {
                let mut relationship = json!({"links": links.relationship(&membership.id, name)});
                if included(name)
                    && let Some(members) = relationship.as_object_mut()
                {
                    members.insert("data".to_owned(), linkage(membership, name));
                }
                (name, relationship)
            })
            .collect(),
    );
    json!({
        "id": membership.id,
        "type": MEMBERSHIPS,
        "links": {"self": links.membership(&membership.id)},
        "attributes": attributes,
        "relationships": relationships,
    })
}

pub fn organization(organisation: &Organisation, fields: &Fieldsets) -> Value {
    let attributes = sparse(
        ORGANIZATIONS,
        fields,
        vec![
            ("name", json!(organisation.name)),
            ("created_at", json!(organisation.created_at.to_rfc3339())),
            ("updated_at", json!(organisation.updated_at.to_rfc3339())),
        ],
    );
    json!({"id": organisation.id, "type": ORGANIZATIONS, "attributes": attributes})
}

/// A role: `admin` for the built-in admin role, `read_only` for the built-in standard one
/// (it grants `*:read`), `custom` for an organisation's own. Built-in roles have no times.
pub fn role(role: &RoleResource<'_>, fields: &Fieldsets) -> Value {
    let (id, name, kind, created_at, updated_at) = match role {
        RoleResource::Builtin(role) => {
            let kind = if role.role == MembershipRole::Admin { "admin" } else { "read_only" };
            (role.id.to_owned(), role.name.to_owned(), kind, Value::Null, Value::Null)
        }
        RoleResource::Custom(role) => (
            role.id.clone(),
            role.name.clone(),
            "custom",
            json!(role.created_at.to_rfc3339()),
            json!(role.updated_at.to_rfc3339()),
        ),
    };
    let attributes = sparse(
        ROLES,
        fields,
        vec![("name", json!(name)), ("kind", json!(kind)), ("created_at", created_at), ("updated_at", updated_at)],
    );
    json!({"id": id, "type": ROLES, "attributes": attributes})
}

/// A role to render.
pub enum RoleResource<'a> {
    Builtin(BuiltinRole),
    Custom(&'a Role),
}

/// The resources `include` asks for, of `memberships`, each once: organizations, then roles.
/// One deleted since the memberships were read is not there to include.
pub fn included(
    memberships: &[Membership],
    organisations: &[Organisation],
    roles: &[Role],
    include: Include,
    fields: &Fieldsets,
) -> Vec<Value> {
    let mut included = Vec::new();
    if include.organization {
        included.extend(organisations.iter().map(|organisation| organization(organisation, fields)));
    }
    if include.role {
        let mut seen: Vec<RoleOf> = Vec::new();
        for membership in memberships {
            let of = RoleOf::of(membership);
            if seen.contains(&of) {
                continue;
            }
            match &of {
                RoleOf::Builtin(builtin) => included.push(role(&RoleResource::Builtin(*builtin), fields)),
                RoleOf::Custom(id) => {
                    if let Some(custom) = roles.iter().find(|role| &role.id == id) {
                        included.push(role(&RoleResource::Custom(custom), fields));
                    }
                }
            }
            seen.push(of);
        }
    }
    included
}

/// A `versions` resource: one event of a membership, as Commerce Layer's versions (PaperTrail)
/// show it. `event` is `create`, `update` or `destroy`; `object_changes` holds
/// `{field: [old, new]}` in the native field names (every field of a create, none of a
/// destroy); `who` is the event's actor.
pub fn version(event: &Event) -> Value {
    let action = event.kind.rsplit('.').next().unwrap_or_default();
    let paper_trail = match action {
        "created" => "create",
        "deleted" | "left" => "destroy",
        _ => "update",
    };
    let mut changes = Map::new();
    let fields = event.object.as_object();
    match (&event.previous_attributes, paper_trail) {
        (Some(Value::Object(previous)), _) => {
            for (name, old) in previous {
                let new = fields.and_then(|fields| fields.get(name)).cloned().unwrap_or(Value::Null);
                changes.insert(name.clone(), json!([old, new]));
            }
        }
        (_, "create") => {
            let identity = ["object", "id", "livemode", "created_at", "updated_at"];
            for (name, new) in fields.into_iter().flatten().filter(|(name, _)| !identity.contains(&name.as_str())) {
                changes.insert(name.clone(), json!([null, new]));
            }
        }
        _ => {}
    }
    json!({
        "id": event.id,
        "type": "versions",
        "attributes": {
            "item_type": MEMBERSHIPS,
            "item_id": event.object_id,
            "event": paper_trail,
            "object_changes": changes,
            "who": {"type": event.actor.kind.as_str(), "id": event.actor.id, "key_prefix": event.actor.key_prefix},
            "created_at": event.created_at.to_rfc3339(),
        },
    })
}
