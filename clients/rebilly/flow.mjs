// Rebilly's official client (rebilly-js-sdk) against a running `roster serve`, configured only
// with its URLs. Set-up goes through Roster's native API; everything else through the client.
// Environment: ROSTER_URL (http://HOST:PORT), ROSTER_MASTER_KEY.
import assert from 'node:assert/strict';
import RebillyAPI, { RebillyErrors } from 'rebilly-js-sdk';

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

const partner = await native(master, 'POST', '/v1/partners', { name: `Rebilly client ${Date.now()}` });
const key = partner.admin_keys.find((issued) => issued.mode === 'live').secret;
const acme = (await native(key, 'POST', '/v1/organisations', { name: 'Acme' })).id;
const beta = (await native(key, 'POST', '/v1/organisations', { name: 'Beta' })).id;
const member = async (organisation_id, email, role, extra = {}) =>
  native(key, 'POST', '/v1/memberships', {
    organisation_id, email, role, first_name: 'Ada', last_name: 'Lovelace', ...extra,
  });
const owner = await member(acme, 'owner@example.com', 'ADMIN', { is_owner: true });
await member(acme, 'standard@example.com', 'STANDARD');
await member(acme, 'invited@example.com', 'STANDARD', { status: 'pending' });
await member(beta, 'beta@example.com', 'ADMIN');
const grace = (await native(key, 'POST', '/v1/users', { email: 'grace@example.com', first_name: 'Grace', last_name: 'Hopper' })).id;

const urls = { live: `${base}/compat/rebilly`, sandbox: `${base}/compat/rebilly` };
const api = RebillyAPI({ apiKey: key, organizationId: acme, urls });
const unprefixed = RebillyAPI({ apiKey: key, urls });

// The list: filter, sort, limit and offset, and the totals the client reads from the headers.
const all = await api.memberships.getAll({ limit: 10 });
assert.equal(all.items.length, 4);
assert.equal(all.total, 4);
const inAcme = await api.memberships.getAll({ filter: `organizationId:${acme}`, sort: '-createdTime', limit: 2, offset: 1 });
assert.deepEqual([inAcme.total, inAcme.limit, inAcme.offset, inAcme.items.length], [3, 2, 1, 2]);
assert.deepEqual(inAcme.items.map((item) => item.fields.user.email), ['standard@example.com', 'owner@example.com']);
const owners = await unprefixed.memberships.getAll({ filter: `organizationId:${acme},${beta};isOwner:true` });
assert.deepEqual(owners.items.map((item) => item.fields.user.id), [owner.user_id]);
const sorted = await api.memberships.getAll({ sort: ['organizationId', '-createdTime'] });
const organisations = sorted.items.map((item) => item.fields.organization.id);
assert.deepEqual(organisations, [acme, acme, acme, beta].sort());

// Upsert: created, then changed, keeping what is not sent.
const created = await api.memberships.update({ organizationId: acme, userId: grace, data: { permissions: ['invoices:read'] } });
assert.equal(created.response.status, 201);
assert.deepEqual([created.fields.isOwner, created.fields.permissions, created.fields.user.name], [false, ['invoices:read'], 'Grace Hopper']);
const updated = await api.memberships.update({ organizationId: acme, userId: grace, data: { isOwner: true } });
assert.equal(updated.response.status, 200);
assert.deepEqual([updated.fields.isOwner, updated.fields.permissions], [true, ['invoices:read']]);

// Get, and a read-modify-write sending the whole shape back.
const read = await api.memberships.get({ organizationId: acme, userId: grace });
assert.equal(read.fields.user.email, 'grace@example.com');
assert.equal(read.fields.createdTime, created.fields.createdTime);
const rewritten = await api.memberships.update({ organizationId: acme, userId: grace, data: { ...read.fields, allowedIps: ['10.0.0.0/8'] } });
assert.deepEqual([rewritten.response.status, rewritten.fields.allowedIps, rewritten.fields.isOwner], [200, ['10.0.0.0/8'], true]);
const natively = await native(key, 'GET', `/v1/memberships?organisation_id=${acme}&user_id=${grace}`);
assert.deepEqual(natively.results[0].allowed_ips, ['10.0.0.0/8']);

// A user token through setSessionToken (Authorization: Bearer).
const token = (await native(key, 'POST', '/v1/api-keys', { name: 'session', user_id: owner.user_id })).secret;
const asUser = RebillyAPI({ organizationId: acme, urls });
asUser.setSessionToken(token);
assert.equal((await asUser.memberships.getAll()).total, 4, "the owner reads its organisation's memberships");

// Delete, then the typed errors.
const deleted = await api.memberships.delete({ organizationId: acme, userId: grace });
assert.equal(deleted.response.status, 204);
async function rejects(promise, type, check = () => {}) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `${error.name}: ${error.message}`);
    check(error);
    return;
  }
  assert.fail(`expected ${type.name}`);
}
await rejects(api.memberships.get({ organizationId: acme, userId: grace }), RebillyErrors.RebillyNotFoundError, (error) => assert.equal(error.status, 404));
await rejects(api.memberships.update({ organizationId: acme, userId: grace, data: { isOwner: 'yes', role: 'ADMIN' } }), RebillyErrors.RebillyValidationError,
  (error) => assert.deepEqual(error.invalidFields.map((field) => field.field).sort(), ['isOwner', 'role']));
await rejects(api.memberships.getAll({ filter: 'isOwner:maybe' }), RebillyErrors.RebillyValidationError);
await rejects(api.memberships.delete({ organizationId: acme, userId: owner.user_id }), RebillyErrors.RebillyConflictError,
  (error) => assert.match(error.message, /owner|admin/));
await rejects(RebillyAPI({ apiKey: 'sk_live_not_a_key', urls }).memberships.getAll(), RebillyErrors.RebillyForbiddenError,
  (error) => assert.equal(error.status, 401));
await rejects(RebillyAPI({ apiKey: key, organizationId: 'org_missing', urls }).memberships.getAll(), RebillyErrors.RebillyRequestError,
  (error) => assert.equal(error.status, 403));
console.log('rebilly-js-sdk flow passed');
