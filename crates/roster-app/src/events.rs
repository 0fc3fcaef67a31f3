//! Events (spec §9): every committed change becomes one event, appended in the write's own
//! transaction by [`App::transaction`](crate::App), and an object's history is read back from
//! them.

use std::sync::Arc;

use roster_core::{
    Error,
    error::Result,
    ids,
    model::{Actor, ActorKind, Event, KeyHolder, Membership, Mode},
    page::{ListPage, ListQuery, Position},
    policy::{Access, Principal, Resource, Scope},
    store::{EventFilter, Transaction},
    time::Timestamp,
};
use serde_json::{Map, Value};

use crate::{App, Caller, Change, Object, Writer};

/// How an object is shown in its events: the native wire shape, which the HTTP layer owns and
/// gives the application when it builds it.
#[derive(Clone)]
pub struct RenderObject(Arc<dyn Fn(&Object) -> Value + Send + Sync>);

impl RenderObject {
    pub fn new(render: impl Fn(&Object) -> Value + Send + Sync + 'static) -> Self {
        Self(Arc::new(render))
    }

    fn render(&self, object: &Object) -> Value {
        (self.0)(object)
    }
}

impl std::fmt::Debug for RenderObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenderObject")
    }
}

/// The renderer of an application built without a wire format (the operations' own tests):
/// an object's kind and id only.
pub fn identity_only() -> RenderObject {
    RenderObject::new(|object: &Object| {
        let mut shown = Map::new();
        shown.insert("object".to_owned(), Value::from(object.resource()));
        shown.insert("id".to_owned(), Value::from(object.id()));
        Value::Object(shown)
    })
}

impl Object {
    /// The resource's name in event types (`membership` in `membership.created`).
    pub fn resource(&self) -> &'static str {
        match self {
            Self::Membership(_) => "membership",
            Self::User(_) => "user",
            Self::PartnerGroup(_) => "partner_group",
            Self::Organisation(_) => "organisation",
            Self::ApiKey(_) => "api_key",
            Self::Role(_) => "role",
            Self::Partner(_) => "partner",
            Self::WebhookEndpoint(_) => "webhook_endpoint",
        }
    }

    fn updated_at(&self) -> Timestamp {
        match self {
            Self::Membership(membership) => membership.updated_at,
            Self::User(user) => user.updated_at,
            Self::PartnerGroup(group) => group.updated_at,
            Self::Organisation(organisation) => organisation.updated_at,
            Self::ApiKey(key) => key.updated_at,
            Self::Role(role) => role.updated_at,
            Self::Partner(partner) => partner.updated_at,
            Self::WebhookEndpoint(endpoint) => endpoint.updated_at,
        }
    }

    fn partner_id(&self) -> &str {
        match self {
            Self::Membership(membership) => &membership.partner_id,
            Self::User(user) => &user.partner_id,
            Self::PartnerGroup(group) => &group.partner_id,
            Self::Organisation(organisation) => &organisation.partner_id,
            Self::ApiKey(key) => &key.partner_id,
            Self::Role(role) => &role.partner_id,
            Self::Partner(partner) => &partner.id,
            Self::WebhookEndpoint(endpoint) => &endpoint.partner_id,
        }
    }

    /// Its mode; a group, which has none, takes the mode of the writer.
    fn mode(&self, writer: Mode) -> Mode {
        match self {
            Self::Membership(membership) => membership.mode,
            Self::User(user) => user.mode,
            Self::Organisation(organisation) => organisation.mode,
            Self::ApiKey(key) => key.mode,
            Self::Role(role) => role.mode,
            Self::WebhookEndpoint(endpoint) => endpoint.mode,
            Self::PartnerGroup(_) | Self::Partner(_) => writer,
        }
    }

    /// The organisation it is or belongs to, which scopes its events.
    fn organisation_id(&self) -> Option<&str> {
        match self {
            Self::Membership(membership) => Some(&membership.organisation_id),
            Self::Organisation(organisation) => Some(&organisation.id),
            Self::Role(role) => Some(&role.organisation_id),
            Self::ApiKey(key) => match &key.holder {
                KeyHolder::Organisation(id) => Some(id),
                KeyHolder::Group(_) | KeyHolder::User(_) => None,
            },
            Self::User(_) | Self::PartnerGroup(_) | Self::Partner(_) | Self::WebhookEndpoint(_) => None,
        }
    }
}

pub(crate) fn actor(principal: &Principal) -> Actor {
    match principal {
        Principal::Key(key) => {
            Actor { kind: ActorKind::Key, id: Some(key.key_id.clone()), key_prefix: Some(key.key_prefix.clone()) }
        }
        Principal::User(user) => {
            Actor { kind: ActorKind::User, id: Some(user.user_id.clone()), key_prefix: user.token_prefix.clone() }
        }
        Principal::Master => Actor { kind: ActorKind::Master, id: None, key_prefix: None },
    }
}

pub(crate) fn writer_mode(principal: &Principal) -> Mode {
    match principal {
        Principal::Key(key) => key.mode,
        Principal::User(user) => user.mode,
        Principal::Master => Mode::Live,
    }
}

/// The fields of `after` whose values differ in `before`, with their old values; `updated_at`
/// changes with every update and is left out. A changed nested object appears whole.
fn previous_attributes(before: &Value, after: &Value) -> Value {
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return Value::Object(Map::new());
    };
    let changed = after
        .iter()
        .filter(|(name, value)| name.as_str() != "updated_at" && before.get(name.as_str()) != Some(value))
        .map(|(name, _)| (name.clone(), before.get(name).cloned().unwrap_or(Value::Null)))
        .collect();
    Value::Object(changed)
}

/// Appends `events` in order, in the write's transaction, each partner's at once (a write's
/// events are almost always of one partner).
pub(crate) async fn append(tx: &mut dyn Transaction, events: &[Event]) -> Result<()> {
    let mut rest = events;
    while let Some(first) = rest.first() {
        let same = rest.iter().take_while(|event| event.partner_id == first.partner_id).count();
        let (these, others) = rest.split_at(same);
        tx.append_events(these).await?;
        rest = others;
    }
    Ok(())
}

/// The events of `change` made by `operation`: its consequences' first, in the order they
/// happened, then its own.
pub(crate) fn events_of(
    render: &RenderObject,
    writer: &Writer,
    operation: &str,
    change: &Change,
    now: Timestamp,
) -> Vec<Event> {
    let mut events: Vec<Event> = change
        .consequences
        .iter()
        .flat_map(|(operation, consequence)| events_of(render, writer, operation, consequence, now))
        .collect();
    events.extend(event_of(render, writer, operation, change, now));
    events
}

/// The event of `change` made by `operation` (`membership.upserted` is a create or an update,
/// as the change says), or none when nothing changed. Partners are managed by the operator and
/// have no events.
fn event_of(render: &RenderObject, writer: &Writer, operation: &str, change: &Change, now: Timestamp) -> Option<Event> {
    let (shown, action, previous) = match (&change.before, &change.after) {
        (_, Some(Object::Partner(_))) | (Some(Object::Partner(_)), None) | (None, None) => return None,
        (None, Some(after)) => (after, "created", None),
        (Some(before), None) => (before, "deleted", None),
        (Some(before), Some(after)) => (after, "updated", Some(before)),
    };
    let kind = match operation.strip_suffix(".upserted") {
        Some(resource) => format!("{resource}.{action}"),
        None => operation.to_owned(),
    };
    let object = render.render(shown);
    let previous_attributes = previous.map(|before| previous_attributes(&render.render(before), &object));
    // An update that changed nothing a reader sees (the same name written again) is no event.
    if previous_attributes.as_ref().and_then(Value::as_object).is_some_and(Map::is_empty) {
        return None;
    }
    // The write's own time: what the object says for a create or an update, so that `as_of`
    // its `updated_at` finds it; a delete has none and is now.
    let created_at = if change.after.is_some() { shown.updated_at() } else { now };
    Some(Event {
        id: ids::new_id(ids::EVENT, created_at),
        partner_id: shown.partner_id().to_owned(),
        mode: shown.mode(writer.mode),
        kind,
        object_id: shown.id().to_owned(),
        organisation_id: shown.organisation_id().map(str::to_owned),
        actor: writer.actor.clone(),
        request_id: writer.request_id.clone(),
        object,
        previous_attributes,
        sequence: 0,
        created_at,
    })
}

/// A membership's versions: every event that touched it, newest first, also after it was
/// deleted. The caller reads them where it reads memberships; one it cannot see, or that never
/// existed, is not found (one stored before events were recorded has none).
pub async fn membership_versions(app: &App, caller: &Caller, id: &str, query: &ListQuery) -> Result<ListPage<Event>> {
    if !id.starts_with(&format!("{}_", ids::MEMBERSHIP)) {
        return Err(Error::NotFound);
    }
    let scope = crate::memberships::scope(app, caller, Access::Read).await?;
    let page = app.store.list_object_events(&scope, id, query).await?;
    if page.count == 0 {
        crate::memberships::get(app, caller, id).await?;
    }
    Ok(page)
}

/// A membership as it was at some moment.
#[derive(Debug, Clone, PartialEq)]
pub enum AsOf {
    /// As its event of then recorded it, in the native shape.
    Recorded(Value),
    /// Stored before events were recorded and unchanged since: as it is now.
    Unrecorded(Box<Membership>),
}

/// Membership `id` as it was at `at` (`as_of`): not found when it did not exist then (not yet
/// created, or deleted by then) or is out of scope, now or then.
pub async fn membership_as_of(app: &App, caller: &Caller, id: &str, at: Timestamp) -> Result<AsOf> {
    if !id.starts_with(&format!("{}_", ids::MEMBERSHIP)) {
        return Err(Error::NotFound);
    }
    let scope = crate::memberships::scope(app, caller, Access::Read).await?;
    match app.store.object_event_at(&scope, id, at).await? {
        Some(event) if event.kind.ends_with(".deleted") || event.kind.ends_with(".left") => Err(Error::NotFound),
        Some(event) => Ok(AsOf::Recorded(event.object)),
        None => {
            // Either it did not exist yet, or it was stored before events were recorded.
            let first = ListQuery { limit: 1, ..ListQuery::default() };
            if app.store.list_object_events(&scope, id, &first).await?.count > 0 {
                return Err(Error::NotFound);
            }
            let membership = crate::memberships::get(app, caller, id).await?;
            if membership.updated_at > at {
                return Err(Error::NotFound);
            }
            Ok(AsOf::Unrecorded(Box::new(membership)))
        }
    }
}

/// Each resource with events, and the name its event types start with.
const RESOURCES: [(Resource, &str); 7] = [
    (Resource::Memberships, "membership"),
    (Resource::Users, "user"),
    (Resource::Organisations, "organisation"),
    (Resource::Roles, "role"),
    (Resource::ApiKeys, "api_key"),
    (Resource::PartnerGroups, "partner_group"),
    (Resource::WebhookEndpoints, "webhook_endpoint"),
];

/// Where the caller reads events: the scope of its key (its partner, mode and organisations),
/// and the resources whose events it sees, those its abilities let it read. A key that reads
/// none of them, or a caller that is not a key, is refused as any of those reads would be.
fn event_scope(caller: &Caller) -> Result<(Scope, Vec<String>)> {
    let mut scope = None;
    let mut resources = Vec::new();
    let mut refusal = Error::Forbidden;
    for (resource, name) in RESOURCES {
        // The native memberships API is partner-level (spec §3): an organisation key, refused
        // there, does not read memberships through their events either.
        if resource == Resource::Memberships && caller.principal.is_organisation_key() {
            continue;
        }
        match caller.principal.key_scope(resource, Access::Read) {
            Ok(readable) => {
                // A key has one scope (partner, mode, organisations) whatever it reads.
                scope.get_or_insert(readable);
                resources.push(name.to_owned());
            }
            Err(error) => refusal = error,
        }
    }
    scope.map(|scope| (scope, resources)).ok_or(refusal)
}

/// Whether the caller may list events at all, decided before its query is read.
pub fn authorise(caller: &Caller) -> Result<()> {
    event_scope(caller).map(drop)
}

/// Which events a list asks for: `type` (a type, `RESOURCE.*` or `*`), an object, an
/// organisation, a time range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub kind: Option<String>,
    pub object_id: Option<String>,
    pub organisation_id: Option<String>,
    pub created_gte: Option<Timestamp>,
    pub created_lt: Option<Timestamp>,
}

/// The events the caller sees that `wanted` asks for, newest first (in commit order).
pub async fn list(app: &App, caller: &Caller, wanted: EventQuery, query: &ListQuery) -> Result<ListPage<Event>> {
    let (scope, readable) = event_scope(caller)?;
    let (resources, kind) = match wanted.kind.as_deref() {
        None | Some("*") => (readable, None),
        Some(pattern) => {
            let (resource, action) = pattern.split_once('.').unwrap_or((pattern, ""));
            let resources = readable.into_iter().filter(|readable| readable == resource).collect();
            (resources, (action != "*").then(|| pattern.to_owned()))
        }
    };
    let filter = EventFilter {
        resources: Some(resources),
        kind,
        object_id: wanted.object_id,
        organisation_id: wanted.organisation_id,
        created_gte: wanted.created_gte,
        created_lt: wanted.created_lt,
    };
    if matches!(query.position, Position::StartingAfter(_)) {
        return Err(Error::InvalidRequest("events are paged by offset or cursor".to_owned()));
    }
    app.store.list_events(&scope, &filter, query).await
}

/// One event the caller sees.
pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<Event> {
    let (scope, resources) = event_scope(caller)?;
    app.store.get_event(&scope, Some(&resources), id).await
}
