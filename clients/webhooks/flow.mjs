// The reference Standard Webhooks library (standardwebhooks, npm) verifying what a running
// `roster serve --webhook-allow-private` sends to a receiver on loopback: every delivery
// verifies with the endpoint's secret and no other, carries the event exactly as
// GET /v1/events/{id} answers it, and after a rotation verifies with the new secret and,
// during the overlap, the old one.
// Environment: ROSTER_URL (http://HOST:PORT), ROSTER_MASTER_KEY.
import assert from 'node:assert/strict';
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const base = process.env.ROSTER_URL;
const master = process.env.ROSTER_MASTER_KEY;
assert.ok(base && master, 'ROSTER_URL and ROSTER_MASTER_KEY are required');

async function native(key, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// The receiver keeps each request's raw body and headers, and answers 204.
const received = [];
const receiver = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
    response.writeHead(204).end();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${receiver.address().port}/roster`;

async function next(type) {
  for (let waited = 0; waited < 20000; waited += 50) {
    const index = received.findIndex((one) => JSON.parse(one.body).type === type);
    if (index >= 0) return received.splice(index, 1)[0];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ${type} delivery within 20 s`);
}

const partner = await native(master, 'POST', '/v1/partners', { name: `Webhooks client ${Date.now()}` });
const key = partner.admin_keys.find((issued) => issued.mode === 'live').secret;
const endpoint = await native(key, 'POST', '/v1/webhook-endpoints', { url, enabled_events: ['organisation.*', 'membership.*'] });
assert.match(endpoint.secret, /^whsec_/);

const acme = await native(key, 'POST', '/v1/organisations', { name: 'Acme' });
const delivery = await next('organisation.created');
const event = new Webhook(endpoint.secret).verify(delivery.body, delivery.headers);
assert.equal(event.data.object.id, acme.id);
assert.deepEqual(event, await native(key, 'GET', `/v1/events/${event.id}`), 'the event as the API answers it');
assert.throws(() => new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').verify(delivery.body, delivery.headers));
assert.throws(() => new Webhook(endpoint.secret).verify(delivery.body.replace('Acme', 'Acne'), delivery.headers));

await native(key, 'POST', '/v1/memberships', { organisation_id: acme.id, email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', role: 'ADMIN' });
const membership = await next('membership.created');
new Webhook(endpoint.secret).verify(membership.body, membership.headers);

const rotated = await native(key, 'POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`);
assert.notEqual(rotated.secret, endpoint.secret);
await native(key, 'PATCH', `/v1/organisations/${acme.id}`, { name: 'Acme Inc' });
const renamed = await next('organisation.updated');
const update = new Webhook(rotated.secret).verify(renamed.body, renamed.headers);
new Webhook(endpoint.secret).verify(renamed.body, renamed.headers);
assert.deepEqual(update.previous_attributes, { name: 'Acme' });

receiver.close();
console.log('webhooks client flow: ok (standardwebhooks verified every delivery)');
