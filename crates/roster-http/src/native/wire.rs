//! The native wire shapes, one struct each: what handlers send and what the OpenAPI document
//! describes come from the same definition. Kept apart from the core model so the API can
//! stay stable while the model grows.

use roster_core::{model, time::Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// RFC 3339 UTC with milliseconds, e.g. `2018-01-01T12:00:00.000Z`.
type Time = Timestamp;

/// A tenant of Roster: a platform whose organisations, users and memberships Roster keeps.
#[derive(Serialize, ToSchema)]
#[schema(as = Partner)]
pub struct Partner {
    #[schema(example = "partner")]
    object: &'static str,
    #[schema(example = "ptn_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    name: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Time,
}

pub fn partner(partner: &model::Partner) -> Partner {
    Partner {
        object: "partner",
        id: partner.id.clone(),
        name: partner.name.clone(),
        created_at: partner.created_at,
        updated_at: partner.updated_at,
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = PartnerGroup)]
pub struct PartnerGroup {
    #[schema(example = "partner_group")]
    object: &'static str,
    #[schema(example = "grp_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    partner_id: String,
    name: String,
    /// Admin groups reach every organisation of the partner.
    is_admin: bool,
    /// The assigned organisations of the caller's mode.
    organisation_ids: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Time,
}

/// A new partner's admin key: its secret is shown only in this response.
#[derive(Serialize, ToSchema)]
pub struct AdminKey {
    #[schema(example = "api_key")]
    object: &'static str,
    id: String,
    /// `live` or `test`.
    #[schema(example = "live")]
    mode: &'static str,
    #[schema(example = "sk_live_…")]
    secret: String,
}

/// A partner with its admin keys, as `POST /v1/partners` answers.
#[derive(Serialize, ToSchema)]
pub struct PartnerCreated {
    #[serde(flatten)]
    partner: Partner,
    admin_keys: Vec<AdminKey>,
}

pub fn partner_created(partner: &model::Partner, admin_keys: &[roster_core::provision::IssuedKey]) -> PartnerCreated {
    let admin_keys = admin_keys
        .iter()
        .map(|issued| AdminKey {
            object: "api_key",
            id: issued.key.id.clone(),
            mode: issued.key.mode.as_str(),
            secret: issued.secret.clone(),
        })
        .collect();
    PartnerCreated { partner: self::partner(partner), admin_keys }
}

pub fn group(group: &model::PartnerGroup) -> PartnerGroup {
    PartnerGroup {
        object: "partner_group",
        id: group.id.clone(),
        partner_id: group.partner_id.clone(),
        name: group.name.clone(),
        is_admin: group.is_admin,
        organisation_ids: group.organisation_ids.clone(),
        created_at: group.created_at,
        updated_at: group.updated_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrganisationSettings {
    enforce_twofactor: bool,
    #[schema(format = Email)]
    abuse_contact_email: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Organisation)]
pub struct Organisation {
    #[schema(example = "organisation")]
    object: &'static str,
    #[schema(example = "org_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    livemode: bool,
    partner_id: String,
    #[schema(example = "Acme")]
    name: String,
    settings: OrganisationSettings,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Time,
}

pub fn organisation(organisation: &model::Organisation) -> Organisation {
    Organisation {
        object: "organisation",
        id: organisation.id.clone(),
        livemode: organisation.mode.is_live(),
        partner_id: organisation.partner_id.clone(),
        name: organisation.name.clone(),
        settings: OrganisationSettings {
            enforce_twofactor: organisation.settings.enforce_twofactor,
            abuse_contact_email: organisation.settings.abuse_contact_email.clone(),
        },
        created_at: organisation.created_at,
        updated_at: organisation.updated_at,
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub struct User {
    #[schema(example = "user")]
    object: &'static str,
    #[schema(example = "usr_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    livemode: bool,
    #[schema(example = "ada@example.com", format = Email)]
    email: String,
    /// Null for a user invited by e-mail alone (through a dialect that takes no names).
    #[schema(example = "Ada", required = true)]
    first_name: Option<String>,
    #[schema(example = "Lovelace", required = true)]
    last_name: Option<String>,
    /// Staff users cannot be members of organisations.
    is_staff: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Time,
}

pub fn user(user: &model::User) -> User {
    User {
        object: "user",
        id: user.id.clone(),
        livemode: user.mode.is_live(),
        email: user.email.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        is_staff: user.is_staff,
        created_at: user.created_at,
        updated_at: user.updated_at,
    }
}

/// An API key, without its secret (shown once, when created).
#[derive(Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKey {
    #[schema(example = "api_key")]
    object: &'static str,
    #[schema(example = "key_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    livemode: bool,
    name: String,
    /// `secret`, `publishable` or `user_token`.
    #[serde(rename = "type")]
    #[schema(example = "secret")]
    key_type: &'static str,
    partner_group_id: Option<String>,
    organisation_id: Option<String>,
    user_id: Option<String>,
    #[schema(example = json!(["memberships:read"]))]
    abilities: Vec<String>,
    /// The first characters of the secret, to tell keys apart.
    #[schema(example = "sk_live_Ab3x")]
    prefix: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Time>,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<Time>,
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<Time>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Time,
}

pub fn api_key(key: &model::ApiKey) -> ApiKey {
    let (group_id, organisation_id, user_id) = key.holder.ids();
    ApiKey {
        object: "api_key",
        id: key.id.clone(),
        livemode: key.mode.is_live(),
        name: key.name.clone(),
        key_type: key.key_type.as_str(),
        partner_group_id: group_id.map(str::to_owned),
        organisation_id: organisation_id.map(str::to_owned),
        user_id: user_id.map(str::to_owned),
        abilities: key.abilities.iter().map(|a| a.to_wire()).collect(),
        prefix: key.prefix.clone(),
        expires_at: key.expires_at,
        last_used_at: key.last_used_at,
        revoked_at: key.revoked_at,
        created_at: key.created_at,
        updated_at: key.updated_at,
    }
}

/// A key as created: with its secret, shown only in this response.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    key: ApiKey,
    #[schema(example = "sk_live_…")]
    secret: String,
}

pub fn api_key_created(key: &model::ApiKey, secret: String) -> ApiKeyCreated {
    ApiKeyCreated { key: api_key(key), secret }
}

/// A membership: one user in one organisation, with role and permissions. Every field is
/// always present.
#[derive(Serialize, ToSchema)]
#[schema(as = Membership)]
pub struct Membership {
    #[schema(example = "membership")]
    object: &'static str,
    #[schema(example = "mem_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    livemode: bool,
    organisation_id: String,
    user_id: String,
    /// Null for a user invited by e-mail alone (through a dialect that takes no names).
    #[schema(example = "Ada", required = true)]
    first_name: Option<String>,
    #[schema(example = "Lovelace", required = true)]
    last_name: Option<String>,
    #[schema(example = "ada@example.com", format = Email)]
    email: String,
    /// `ADMIN` or `STANDARD`.
    #[schema(example = "ADMIN")]
    role: &'static str,
    role_ids: Vec<String>,
    #[schema(example = json!(["customers:read"]))]
    permissions: Vec<String>,
    is_owner: bool,
    is_default: bool,
    #[schema(example = json!(["10.0.0.0/8"]))]
    allowed_ips: Vec<String>,
    /// `pending` (an invitation), `accepted` or `rejected`.
    #[schema(example = "accepted")]
    status: &'static str,
    api_access_enabled: bool,
    /// `live_access`, `test_access` or `full_access`.
    #[schema(example = "live_access")]
    access_scope: &'static str,
    test_enabled: bool,
    is_alert_action_required_email_enabled: bool,
    is_alert_resolved_email_enabled: bool,
    is_alert_dismissed_email_enabled: bool,
    is_evidence_requested_email_enabled: bool,
    reference: Option<String>,
    reference_origin: Option<String>,
    #[schema(value_type = Object, example = json!({"tier": "gold"}))]
    metadata: Map<String, Value>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Time,
}

pub fn membership(membership: &model::Membership) -> Membership {
    let settings = &membership.settings;
    let notifications = &settings.notifications;
    Membership {
        object: "membership",
        id: membership.id.clone(),
        livemode: membership.mode.is_live(),
        organisation_id: membership.organisation_id.clone(),
        user_id: membership.user_id.clone(),
        first_name: membership.first_name.clone(),
        last_name: membership.last_name.clone(),
        email: membership.email.clone(),
        role: settings.role.as_str(),
        role_ids: settings.role_ids.clone(),
        permissions: settings.permissions.clone(),
        is_owner: settings.is_owner,
        is_default: settings.is_default,
        allowed_ips: settings.allowed_ips.clone(),
        status: membership.status.as_str(),
        api_access_enabled: settings.api_access_enabled,
        access_scope: settings.access_scope.as_str(),
        test_enabled: settings.test_enabled,
        is_alert_action_required_email_enabled: notifications.alert_action_required,
        is_alert_resolved_email_enabled: notifications.alert_resolved,
        is_alert_dismissed_email_enabled: notifications.alert_dismissed,
        is_evidence_requested_email_enabled: notifications.evidence_requested,
        reference: settings.reference.clone(),
        reference_origin: settings.reference_origin.clone(),
        metadata: settings.metadata.clone(),
        created_at: membership.created_at,
        updated_at: membership.updated_at,
    }
}

/// A role: custom (stored, of one organisation) or built in (`role_admin`, `role_standard`:
/// never stored, so without timestamps).
#[derive(Serialize, ToSchema)]
#[schema(as = Role)]
pub struct Role {
    #[schema(example = "role")]
    object: &'static str,
    #[schema(example = "rol_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    livemode: bool,
    organisation_id: Option<String>,
    #[schema(example = "Billing")]
    name: String,
    #[schema(example = json!(["invoices:*"]))]
    permissions: Vec<String>,
    is_builtin: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<Time>,
    #[schema(value_type = Option<String>, format = DateTime)]
    updated_at: Option<Time>,
}

pub fn role(role: &model::Role) -> Role {
    Role {
        object: "role",
        id: role.id.clone(),
        livemode: role.mode.is_live(),
        organisation_id: Some(role.organisation_id.clone()),
        name: role.name.clone(),
        permissions: role.permissions.clone(),
        is_builtin: false,
        created_at: Some(role.created_at),
        updated_at: Some(role.updated_at),
    }
}

/// A built-in role, seen from one organisation (or from none).
pub fn builtin_role(role: &model::BuiltinRole, mode: model::Mode, organisation_id: Option<&str>) -> Role {
    Role {
        object: "role",
        id: role.id.to_owned(),
        livemode: mode.is_live(),
        organisation_id: organisation_id.map(str::to_owned),
        name: role.name.to_owned(),
        permissions: role.permissions.iter().map(|p| (*p).to_owned()).collect(),
        is_builtin: true,
        created_at: None,
        updated_at: None,
    }
}

/// Who made a write: a key, a user (through its token, or a JWT: no `key_prefix`), or the
/// master key.
#[derive(Serialize, ToSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    #[schema(example = "key")]
    kind: &'static str,
    #[schema(example = "key_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: Option<String>,
    #[schema(example = "sk_live_4f2a")]
    key_prefix: Option<String>,
}

/// The object an event is about.
#[derive(Serialize, ToSchema)]
pub struct EventData {
    /// The object after the write (before it, for a delete), in its native shape.
    #[schema(value_type = Object)]
    object: Value,
}

/// One committed change to one object.
#[derive(Serialize, ToSchema)]
pub struct Event {
    #[schema(example = "event")]
    object: &'static str,
    #[schema(example = "evt_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    /// `RESOURCE.ACTION`.
    #[serde(rename = "type")]
    #[schema(example = "membership.updated")]
    kind: String,
    livemode: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
    /// Increases with commit order within the partner.
    sequence: i64,
    actor: Actor,
    request_id: String,
    data: EventData,
    /// The old values of the fields an update changed (`updated_at` left out); null for
    /// creates and deletes.
    #[schema(value_type = Option<Object>)]
    previous_attributes: Option<Value>,
}

pub fn event(event: &model::Event) -> Event {
    Event {
        object: "event",
        id: event.id.clone(),
        kind: event.kind.clone(),
        livemode: event.mode.is_live(),
        created_at: event.created_at,
        sequence: event.sequence,
        actor: Actor {
            kind: event.actor.kind.as_str(),
            id: event.actor.id.clone(),
            key_prefix: event.actor.key_prefix.clone(),
        },
        request_id: event.request_id.clone(),
        data: EventData { object: event.object.clone() },
        previous_attributes: event.previous_attributes.clone(),
    }
}

/// Any object in its native shape, as its events show it (spec §9).
pub fn object(object: &roster_app::Object) -> Value {
    use roster_app::Object;
    let shown = match object {
        Object::Membership(membership) => serde_json::to_value(self::membership(membership)),
        Object::User(user) => serde_json::to_value(self::user(user)),
        Object::PartnerGroup(group) => serde_json::to_value(self::group(group)),
        Object::Organisation(organisation) => serde_json::to_value(self::organisation(organisation)),
        Object::ApiKey(key) => serde_json::to_value(api_key(key)),
        Object::Role(role) => serde_json::to_value(self::role(role)),
        Object::Partner(partner) => serde_json::to_value(self::partner(partner)),
        Object::WebhookEndpoint(endpoint) => serde_json::to_value(webhook_endpoint(endpoint)),
    };
    // The shapes are plain structs of strings, numbers and lists: serialising cannot fail.
    shown.unwrap_or(Value::Null)
}

/// Where the partner's events of one mode are sent; its signing secret is shown only when
/// made (creation, rotation).
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookEndpoint)]
pub struct WebhookEndpoint {
    #[schema(example = "webhook_endpoint")]
    object: &'static str,
    #[schema(example = "we_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    #[schema(example = "https://hooks.example.com/roster")]
    url: String,
    /// Types (`membership.updated`), every type of a resource (`membership.*`), or `*`.
    #[schema(example = json!(["membership.*"]))]
    enabled_events: Vec<String>,
    description: String,
    /// A disabled endpoint is sent nothing; Roster disables one whose event failed for three
    /// days.
    disabled: bool,
    livemode: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Time,
}

pub fn webhook_endpoint(endpoint: &model::WebhookEndpoint) -> WebhookEndpoint {
    WebhookEndpoint {
        object: "webhook_endpoint",
        id: endpoint.id.clone(),
        url: endpoint.url.clone(),
        enabled_events: endpoint.enabled_events.clone(),
        description: endpoint.description.clone(),
        disabled: endpoint.disabled,
        livemode: endpoint.mode.is_live(),
        created_at: endpoint.created_at,
        updated_at: endpoint.updated_at,
    }
}

/// An endpoint as created or rotated: with its signing secret, shown only in this response.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    endpoint: WebhookEndpoint,
    /// `whsec_` and base64: verify deliveries with it (Standard Webhooks). After a rotation the
    /// previous secret also signs for 24 hours.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    secret: String,
}

pub fn webhook_endpoint_with_secret(endpoint: &model::WebhookEndpoint, secret: String) -> WebhookEndpointWithSecret {
    WebhookEndpointWithSecret { endpoint: webhook_endpoint(endpoint), secret }
}

/// One attempt to deliver an event to an endpoint.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct WebhookDelivery {
    #[schema(example = "webhook_delivery")]
    object: &'static str,
    #[schema(example = "whd_01JD9V8Q2S7W6K3X5Y4Z1A2B3C")]
    id: String,
    endpoint_id: String,
    event_id: String,
    /// The `webhook-id` header: the same for every attempt of one event to one endpoint.
    webhook_id: String,
    /// 1 for the first attempt.
    attempt: u32,
    /// `succeeded` (a 2xx within 10 s) or `failed`.
    #[schema(example = "succeeded")]
    status: &'static str,
    /// The receiver's status; null when it did not answer in time or could not be reached.
    response_status: Option<u16>,
    latency_ms: u64,
    /// When it is tried again; null once delivered or given up.
    #[schema(value_type = Option<String>, format = DateTime)]
    next_retry_at: Option<Time>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Time,
}

pub fn webhook_delivery(delivery: &model::WebhookDelivery) -> WebhookDelivery {
    WebhookDelivery {
        object: "webhook_delivery",
        id: delivery.id.clone(),
        endpoint_id: delivery.endpoint_id.clone(),
        event_id: delivery.event_id.clone(),
        webhook_id: delivery.webhook_id.clone(),
        attempt: delivery.attempt,
        status: if delivery.succeeded { "succeeded" } else { "failed" },
        response_status: delivery.response_status,
        latency_ms: delivery.latency_ms,
        next_retry_at: delivery.next_retry_at,
        created_at: delivery.created_at,
    }
}

/// The answer of `POST /v1/events/{id}/redeliver`: the endpoints the event is sent to again.
#[derive(Serialize, ToSchema)]
pub struct Redelivery {
    #[schema(example = "event_redelivery")]
    object: &'static str,
    event_id: String,
    /// The enabled endpoints of the event's mode that take it (or the one named), each sent
    /// it again under its same `webhook-id`.
    webhook_endpoint_ids: Vec<String>,
}

pub fn redelivery(event_id: &str, webhook_endpoint_ids: Vec<String>) -> Redelivery {
    Redelivery { object: "event_redelivery", event_id: event_id.to_owned(), webhook_endpoint_ids }
}

/// A membership's effective permissions, sorted and without duplicates.
#[derive(Serialize, ToSchema)]
pub struct PermissionSet {
    #[schema(example = "permission_set")]
    object: &'static str,
    #[schema(example = json!(["*:read", "invoices:*"]))]
    permissions: Vec<String>,
}

pub fn permission_set(permissions: &[String]) -> PermissionSet {
    PermissionSet { object: "permission_set", permissions: permissions.to_vec() }
}

/// The answer of `GET /v1/check`.
#[derive(Serialize, ToSchema)]
pub struct Check {
    #[schema(example = "check")]
    object: &'static str,
    allowed: bool,
    /// The user's membership in the organisation, whatever the answer; null when none.
    membership_id: Option<String>,
}

pub fn check(allowed: bool, membership_id: Option<&str>) -> Check {
    Check { object: "check", allowed, membership_id: membership_id.map(str::to_owned) }
}
