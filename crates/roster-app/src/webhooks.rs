//! Webhooks (spec §9): endpoints, the outbox the write path fills in each write's own
//! transaction, and the delivery of what it holds: claimed attempt by attempt (so nodes on one
//! database never make the same attempt twice), signed per Standard Webhooks, retried with
//! backoff for three days, then given up and the endpoint disabled.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use roster_core::{
    Error, ValidationCode,
    error::Result,
    ids, keys,
    model::{Event, Mode, WebhookDelivery, WebhookEndpoint, WebhookSecrets},
    page::{ListPage, ListQuery},
    policy::{Access, Resource, Scope},
    store::{ClaimedAttempt, Subscription, Transaction, WebhookMessage, WebhookQueue},
    time::Timestamp,
    webhooks::{self as rules, address_is_public, endpoint_takes, host_and_port},
};
use serde_json::Value;

use crate::{App, Caller, Change, Writer};

/// How an event is sent: the native wire shape, exactly as `GET /v1/events/{id}` answers it,
/// which the HTTP layer owns and gives the application when it builds it.
#[derive(Clone)]
pub struct RenderEvent(Arc<dyn Fn(&Event) -> Value + Send + Sync>);

impl RenderEvent {
    pub fn new(render: impl Fn(&Event) -> Value + Send + Sync + 'static) -> Self {
        Self(Arc::new(render))
    }
}

impl std::fmt::Debug for RenderEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenderEvent")
    }
}

/// The renderer of an application built without a wire format (the operations' own tests).
pub fn event_identity_only() -> RenderEvent {
    RenderEvent::new(|event| serde_json::json!({"object": "event", "id": event.id, "type": event.kind}))
}

fn scope(caller: &Caller, access: Access) -> Result<Scope> {
    caller.principal.key_scope(Resource::WebhookEndpoints, access)
}

/// Whether the caller may use these operations with `access` at all, decided before its input
/// is read: admin-group keys with the ability, since an endpoint receives every event of its
/// partner's mode.
pub fn authorise(caller: &Caller, access: Access) -> Result<()> {
    scope(caller, access).map(drop)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
}

/// An endpoint with its current signing secret: what creation and rotation answer, the only
/// times the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

fn url_refused(message: &str) -> Error {
    Error::field("url", ValidationCode::InvalidFormat, message)
}

/// Refuses a URL whose host resolves to a loopback, private or link-local address (or does
/// not resolve), unless the operator allows private destinations. Checked again at each
/// delivery, where a name that resolves elsewhere by then is refused too.
async fn check_destination(app: &App, url: &str) -> Result<()> {
    if app.webhooks.allow_private {
        return Ok(());
    }
    let (host, port) = host_and_port(url).ok_or_else(|| url_refused("must be an absolute http or https URL"))?;
    let resolved = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host.as_str(), port)))
        .await
        .map_err(|_| url_refused("its host did not resolve in time"))?
        .map_err(|_| url_refused("its host does not resolve"))?;
    let addresses: Vec<SocketAddr> = resolved.collect();
    if addresses.is_empty() || addresses.iter().any(|address| !address_is_public(address.ip())) {
        return Err(url_refused(
            "resolves to a loopback, private or link-local address, which Roster does not send to \
             (the operator may allow it with --webhook-allow-private)",
        ));
    }
    Ok(())
}

/// A new endpoint of the caller's partner and mode, with its secret.
pub async fn create(app: &App, caller: &Caller, new: NewEndpoint) -> Result<WithSecret> {
    let scope = scope(caller, Access::Write)?;
    check_destination(app, &new.url).await?;
    let now = app.now();
    let endpoint = WebhookEndpoint {
        id: ids::new_id(ids::WEBHOOK_ENDPOINT, now),
        partner_id: scope.partner_id().to_owned(),
        mode: scope.mode(),
        url: new.url,
        enabled_events: new.enabled_events,
        description: new.description,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let secrets = WebhookSecrets { current: rules::new_secret(), previous: None, previous_expires_at: None };
    app.transaction(caller, "webhook_endpoint.created", |tx| {
        let (endpoint, secrets) = (endpoint.clone(), secrets.clone());
        Box::pin(async move {
            tx.insert_webhook_endpoint(&endpoint, &secrets).await?;
            Ok(((), Change::created(endpoint)))
        })
    })
    .await?;
    Ok(WithSecret { endpoint, secret: secrets.current })
}

pub async fn list(app: &App, caller: &Caller, query: &ListQuery) -> Result<ListPage<WebhookEndpoint>> {
    let scope = scope(caller, Access::Read)?;
    crate::newest_first_only(query)?;
    app.store.list_webhook_endpoints(&scope, query).await
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<WebhookEndpoint> {
    let scope = scope(caller, Access::Read)?;
    app.store.get_webhook_endpoint(&scope, id).await
}

/// Changes what was sent; disabling drops what the endpoint had queued (its deliveries log
/// keeps every attempt, and a redelivery sends an event again).
pub async fn update(app: &App, caller: &Caller, id: &str, patch: EndpointPatch) -> Result<WebhookEndpoint> {
    let scope = scope(caller, Access::Write)?;
    if let Some(url) = &patch.url {
        check_destination(app, url).await?;
    }
    let now = app.now();
    app.transaction(caller, "webhook_endpoint.updated", |tx| {
        let (scope, id, patch) = (scope.clone(), id.to_owned(), patch.clone());
        Box::pin(async move {
            let (current, _) = tx.lock_webhook_endpoint(&scope, &id).await?;
            let updated = WebhookEndpoint {
                url: patch.url.unwrap_or_else(|| current.url.clone()),
                enabled_events: patch.enabled_events.unwrap_or_else(|| current.enabled_events.clone()),
                description: patch.description.unwrap_or_else(|| current.description.clone()),
                disabled: patch.disabled.unwrap_or(current.disabled),
                ..current.clone()
            };
            if updated == current {
                return Ok((current, Change::none()));
            }
            let updated = WebhookEndpoint { updated_at: now, ..updated };
            tx.update_webhook_endpoint(&updated).await?;
            Ok((updated.clone(), Change::updated(current, updated)))
        })
    })
    .await
}

/// Deletes the endpoint, with what it had queued and its deliveries log.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    let scope = scope(caller, Access::Write)?;
    app.transaction(caller, "webhook_endpoint.deleted", |tx| {
        let (scope, id) = (scope.clone(), id.to_owned());
        Box::pin(async move {
            let (endpoint, _) = tx.lock_webhook_endpoint(&scope, &id).await?;
            tx.delete_webhook_endpoint(&id).await?;
            Ok(((), Change::deleted(endpoint)))
        })
    })
    .await
}

/// A new signing secret; the one it replaces keeps signing beside it for 24 hours, so a
/// receiver can move to the new one without missing a delivery. (The endpoint as shown does
/// not change, so no event records it.)
pub async fn rotate_secret(app: &App, caller: &Caller, id: &str) -> Result<WithSecret> {
    let scope = scope(caller, Access::Write)?;
    let now = app.now();
    app.transaction(caller, "webhook_endpoint.secret_rotated", |tx| {
        let (scope, id) = (scope.clone(), id.to_owned());
        Box::pin(async move {
            let (endpoint, old) = tx.lock_webhook_endpoint(&scope, &id).await?;
            let secrets = WebhookSecrets {
                current: rules::new_secret(),
                previous: Some(old.current),
                previous_expires_at: Some(Timestamp(now.millis() + rules::ROTATION_OVERLAP_MILLIS)),
            };
            tx.set_webhook_secrets(&id, &secrets).await?;
            Ok((WithSecret { endpoint, secret: secrets.current }, Change::none()))
        })
    })
    .await
}

/// An endpoint's attempts, newest first.
pub async fn deliveries(
    app: &App,
    caller: &Caller,
    endpoint_id: &str,
    query: &ListQuery,
) -> Result<ListPage<WebhookDelivery>> {
    let scope = scope(caller, Access::Read)?;
    crate::newest_first_only(query)?;
    app.store.get_webhook_endpoint(&scope, endpoint_id).await?;
    app.store.list_webhook_deliveries(endpoint_id, query).await
}

/// Sends event `event_id` again to each enabled endpoint of the caller's mode that takes it
/// (only `endpoint_id`, when given), at once; the ids of those it was queued for. Each keeps
/// its `webhook-id`, so a receiver that saw it before recognises it.
pub async fn redeliver(app: &App, caller: &Caller, event_id: &str, endpoint_id: Option<&str>) -> Result<Vec<String>> {
    let scope = scope(caller, Access::Write)?;
    // An endpoint takes every event of its partner's mode, so whoever manages endpoints may
    // send any of them again.
    let event = app.store.get_event(&scope, None, event_id).await?;
    if let Some(endpoint_id) = endpoint_id {
        app.store.get_webhook_endpoint(&scope, endpoint_id).await?;
    }
    let now = app.now();
    let queued = app
        .transaction(caller, "event.redelivered", |tx| {
            let (event, endpoint_id) = (event.clone(), endpoint_id.map(str::to_owned));
            Box::pin(async move {
                let messages: Vec<WebhookMessage> = messages_for(tx, &event, now)
                    .await?
                    .into_iter()
                    .filter(|message| endpoint_id.as_ref().is_none_or(|wanted| *wanted == message.endpoint_id))
                    .collect();
                tx.enqueue_webhook_messages(&messages, now).await?;
                Ok((messages.into_iter().map(|message| message.endpoint_id).collect::<Vec<_>>(), Change::none()))
            })
        })
        .await?;
    if !queued.is_empty() {
        app.webhooks.wake.notify_one();
    }
    Ok(queued)
}

/// The messages that send `event` to each enabled endpoint of its partner and mode that takes
/// it.
async fn messages_for(tx: &mut dyn Transaction, event: &Event, now: Timestamp) -> Result<Vec<WebhookMessage>> {
    let subscriptions = tx.webhook_subscriptions(&event.partner_id, event.mode).await?;
    Ok(messages(&subscriptions, event, now).collect())
}

/// A message for each of `subscriptions` that takes `event`.
fn messages<'a>(
    subscriptions: &'a [Subscription],
    event: &'a Event,
    now: Timestamp,
) -> impl Iterator<Item = WebhookMessage> + 'a {
    subscriptions.iter().filter(|subscription| endpoint_takes(&subscription.enabled_events, &event.kind)).map(
        move |subscription| WebhookMessage {
            id: ids::new_id(ids::WEBHOOK_MESSAGE, now),
            endpoint_id: subscription.endpoint_id.clone(),
            event_id: event.id.clone(),
        },
    )
}

/// The enabled endpoints of each partner and mode a write's events go to, read once per write.
#[derive(Default)]
pub(crate) struct Subscribers(Vec<((String, Mode), Vec<Subscription>)>);

impl Subscribers {
    /// The endpoints of `partner_id`'s `mode`, read from `tx` the first time they are asked for.
    pub(crate) async fn of(
        &mut self,
        tx: &mut dyn Transaction,
        partner_id: &str,
        mode: Mode,
    ) -> Result<&[Subscription]> {
        let known = self.0.iter().position(|((partner, known_mode), _)| partner == partner_id && *known_mode == mode);
        let index = match known {
            Some(index) => index,
            None => {
                let subscriptions = tx.webhook_subscriptions(partner_id, mode).await?;
                self.0.push(((partner_id.to_owned(), mode), subscriptions));
                self.0.len() - 1
            }
        };
        Ok(self.0.get(index).map(|(_, subscriptions)| subscriptions.as_slice()).unwrap_or_default())
    }
}

/// Queues a write's events for the endpoints that take them, in the write's transaction (the
/// outbox): a committed event is delivered even if this node dies the moment after. Whether
/// any was queued.
pub(crate) async fn enqueue(
    tx: &mut dyn Transaction,
    subscribers: &mut Subscribers,
    events: &[Event],
    now: Timestamp,
) -> Result<bool> {
    let mut queued = false;
    let mut seen: Vec<(&str, Mode)> = Vec::new();
    for event in events {
        // The messages of each partner and mode a write touched (almost always one) go at once.
        let key = (event.partner_id.as_str(), event.mode);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let subscriptions = subscribers.of(tx, &event.partner_id, event.mode).await?;
        if subscriptions.is_empty() {
            continue;
        }
        let messages: Vec<WebhookMessage> = events
            .iter()
            .filter(|other| other.partner_id == event.partner_id && other.mode == event.mode)
            .flat_map(|other| messages(subscriptions, other, now))
            .collect();
        queued |= !messages.is_empty();
        tx.enqueue_webhook_messages(&messages, now).await?;
    }
    Ok(queued)
}

/// How the outbox stands, on every node, for `/metrics`.
pub async fn queue(app: &App) -> Result<WebhookQueue> {
    app.store.webhook_queue().await
}

/// What this node's deliveries came to, for `/metrics`.
#[derive(Debug, Default)]
pub struct Outcomes {
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    /// Events given up after three days of failures (each disabled its endpoint).
    pub given_up: AtomicU64,
}

/// The node's webhook machinery: its configuration, the HTTP client it sends with, the signal
/// that wakes its worker when a write queued something, and its counters.
#[derive(Debug, Default)]
pub struct Webhooks {
    pub(crate) allow_private: bool,
    client: OnceLock<reqwest::Client>,
    pub(crate) wake: tokio::sync::Notify,
    pub outcomes: Outcomes,
}

impl Webhooks {
    pub(crate) fn new(allow_private: bool) -> Self {
        Self { allow_private, ..Self::default() }
    }

    fn client(&self) -> Result<&reqwest::Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(rules::ATTEMPT_TIMEOUT_MILLIS as u64))
            .connect_timeout(Duration::from_secs(5))
            // A redirect would lead past the destination check.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !self.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let client = builder.build().map_err(Error::internal)?;
        Ok(self.client.get_or_init(|| client))
    }
}

/// Resolves names to their public addresses only, so a name that resolves to a private
/// address by the time of a delivery (DNS rebinding) is not sent to.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = resolved.filter(|address| address_is_public(address.ip())).collect();
            if public.is_empty() {
                return Err("the host resolves to no public address".into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}

/// How many attempts a node makes at once. Each runs on its own: a slow receiver holds up its
/// own attempt (up to the 10 s limit) and one of these places, never the others' attempts.
const IN_FLIGHT: usize = 64;

/// The attempts a node is making.
struct Attempts {
    room: Arc<tokio::sync::Semaphore>,
    running: tokio::task::JoinSet<()>,
}

impl Attempts {
    fn new() -> Self {
        Self { room: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)), running: tokio::task::JoinSet::new() }
    }

    /// Claims as many due attempts as there is room for and starts each; how many it started.
    async fn start_due(&mut self, app: &App) -> Result<usize> {
        let room = self.room.available_permits();
        if room == 0 {
            return Ok(0);
        }
        let now = app.now();
        let lease = ids::new_id("lease", now);
        let until = Timestamp(now.millis() + rules::LEASE_MILLIS);
        let claimed = app.store.claim_webhook_attempts(now, until, &lease, u32::try_from(room).unwrap_or(1)).await?;
        let started = claimed.len();
        for attempt in claimed {
            let place = Arc::clone(&self.room).try_acquire_owned().map_err(Error::internal)?;
            let app = app.clone();
            self.running.spawn(async move {
                if let Err(error) = attempt_delivery(&app, attempt).await {
                    tracing::warn!(%error, "could not record a webhook attempt");
                }
                drop(place);
            });
        }
        Ok(started)
    }

    /// Starts what is due until nothing is or there is no room left; how many it started.
    async fn start_all_due(&mut self, app: &App) -> Result<usize> {
        let mut started = 0;
        loop {
            let now_started = self.start_due(app).await?;
            started += now_started;
            if now_started == 0 || self.room.available_permits() == 0 {
                return Ok(started);
            }
        }
    }

    /// Waits for one running attempt to end; false when none was running.
    async fn one_ended(&mut self) -> bool {
        match self.running.join_next().await {
            Some(Err(error)) => {
                tracing::error!(%error, "a webhook attempt stopped");
                true
            }
            Some(Ok(())) => true,
            None => false,
        }
    }
}

/// Makes every attempt due now (and those that fall due meanwhile) and waits for them; how many
/// it made. Tests call it to deliver without waiting for the worker.
pub async fn deliver_due(app: &App) -> Result<usize> {
    let mut attempts = Attempts::new();
    let mut made = 0;
    loop {
        made += attempts.start_all_due(app).await?;
        if !attempts.one_ended().await {
            return Ok(made);
        }
    }
}

/// Delivers in the background for as long as the node runs: whenever a write on this node
/// queued something, whenever an attempt ends (its place is free), and at least every second
/// (other nodes' writes, retries, attempts whose node died).
pub async fn run(app: App) {
    let mut attempts = Attempts::new();
    loop {
        if let Err(error) = attempts.start_all_due(&app).await {
            tracing::warn!(%error, "could not claim webhook attempts");
        }
        tokio::select! {
            () = app.webhooks.wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            true = attempts.one_ended(), if !attempts.running.is_empty() => {}
        }
    }
}

/// A number in 0.0–1.0, for spreading retries.
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    keys::fill_random(&mut bytes);
    u64::from_le_bytes(bytes) as f64 / u64::MAX as f64
}

/// What one attempt came to: the receiver's status, if it answered.
async fn send(app: &App, attempt: &ClaimedAttempt, event: &Event) -> Result<Option<u16>> {
    let body = serde_json::to_string(&(app.render_event.0)(event)).map_err(Error::internal)?;
    let now = app.now();
    let timestamp = now.millis() / 1000;
    let mut signatures = Vec::new();
    for secret in attempt.secrets.signing(now) {
        let signer = standardwebhooks::Webhook::new(secret).map_err(Error::internal)?;
        signatures.push(signer.sign(&attempt.webhook_id, timestamp, body.as_bytes()).map_err(Error::internal)?);
    }
    if !app.webhooks.allow_private
        && let Some((host, _)) = host_and_port(&attempt.url)
        && let Ok(address) = host.parse::<IpAddr>()
        && !address_is_public(address)
    {
        return Ok(None);
    }
    let sent = app
        .webhooks
        .client()?
        .post(&attempt.url)
        .header("content-type", "application/json")
        .header("webhook-id", &attempt.webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signatures.join(" "))
        .body(body)
        .send()
        .await;
    Ok(sent.ok().map(|response| response.status().as_u16()))
}

/// Makes one claimed attempt and records it: delivered, tried again later, or given up (which
/// disables the endpoint, with an event).
async fn attempt_delivery(app: &App, attempt: ClaimedAttempt) -> Result<()> {
    let Some(event) = &attempt.event else {
        // Pruned before it could be delivered: nothing is left to send.
        app.store.finish_webhook_attempt(&attempt.webhook_id, &attempt.lease, None, None).await?;
        return Ok(());
    };
    let started = Instant::now();
    let status = send(app, &attempt, event).await?;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let now = app.now();
    let succeeded = status.is_some_and(|status| (200..300).contains(&status));
    let next_attempt_at =
        if succeeded { None } else { rules::next_attempt(attempt.attempt, attempt.queued_at, now, jitter()) };
    let delivery = WebhookDelivery {
        id: ids::new_id(ids::WEBHOOK_DELIVERY, now),
        endpoint_id: attempt.endpoint_id.clone(),
        event_id: attempt.event_id.clone(),
        webhook_id: attempt.webhook_id.clone(),
        attempt: attempt.attempt,
        succeeded,
        response_status: status,
        latency_ms,
        next_retry_at: next_attempt_at,
        created_at: now,
    };
    let counter = if succeeded { &app.webhooks.outcomes.succeeded } else { &app.webhooks.outcomes.failed };
    counter.fetch_add(1, Ordering::Relaxed);
    let held =
        app.store.finish_webhook_attempt(&attempt.webhook_id, &attempt.lease, Some(&delivery), next_attempt_at).await?;
    if held && !succeeded && next_attempt_at.is_none() {
        app.webhooks.outcomes.given_up.fetch_add(1, Ordering::Relaxed);
        disable_failing(app, &attempt).await?;
    }
    Ok(())
}

/// Disables an endpoint whose event failed for three days, as Roster itself.
async fn disable_failing(app: &App, attempt: &ClaimedAttempt) -> Result<()> {
    let scope = Scope::of_partner(attempt.partner_id.clone(), attempt.mode);
    let writer = Writer::system(attempt.partner_id.clone(), attempt.mode, format!("webhook:{}", attempt.webhook_id));
    let now = app.now();
    tracing::warn!(endpoint_id = %attempt.endpoint_id, "disabling a webhook endpoint that failed for three days");
    app.write(&writer, "webhook_endpoint.disabled", |tx| {
        let (scope, id) = (scope.clone(), attempt.endpoint_id.clone());
        Box::pin(async move {
            let (current, _) = match tx.lock_webhook_endpoint(&scope, &id).await {
                Ok(found) => found,
                Err(Error::NotFound) => return Ok(((), Change::none())),
                Err(other) => return Err(other),
            };
            if current.disabled {
                return Ok(((), Change::none()));
            }
            let disabled = WebhookEndpoint { disabled: true, updated_at: now, ..current.clone() };
            tx.update_webhook_endpoint(&disabled).await?;
            Ok(((), Change::updated(current, disabled)))
        })
    })
    .await
}
