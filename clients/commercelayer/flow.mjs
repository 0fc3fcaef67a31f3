// Commerce Layer's official provisioning client (@commercelayer/provisioning-sdk) against a running
// `roster serve`. The client is configured only with its access token and domain; a request
// interceptor moves its fixed origin (https://provisioning.commercelayer.io) onto Roster's
// /compat/commercelayer prefix, keeping the path's /api/... part and the query string as sent.
// Set-up goes through Roster's native API; everything else through the client.
// Environment: ROSTER_URL (http://HOST:PORT), ROSTER_MASTER_KEY.
import assert from 'node:assert/strict';
import { CommerceLayerProvisioning, CommerceLayerProvisioningStatic } from '@commercelayer/provisioning-sdk';

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

const partner = await native(master, 'POST', '/v1/partners', { name: `Commerce Layer client ${Date.now()}` });
const key = partner.admin_keys.find((issued) => issued.mode === 'live').secret;
const acme = (await native(key, 'POST', '/v1/organisations', { name: 'Acme' })).id;
const beta = (await native(key, 'POST', '/v1/organisations', { name: 'Beta' })).id;
const member = async (organisation_id, email, role, extra = {}) =>
  native(key, 'POST', '/v1/memberships', {
    organisation_id, email, role, first_name: 'Ada', last_name: 'Lovelace', ...extra,
  });
// Natively created memberships are accepted unless told otherwise: the dialect reads them "active".
const owner = await member(acme, 'owner@example.com', 'ADMIN', { is_owner: true });
const standard = await member(acme, 'standard@example.com', 'STANDARD');
await member(beta, 'beta@example.com', 'ADMIN');
const billing = (await native(key, 'POST', '/v1/roles', { organisation_id: acme, name: 'Billing', permissions: ['invoices:read'] })).id;
const betaRole = (await native(key, 'POST', '/v1/roles', { organisation_id: beta, name: 'Support', permissions: ['tickets:read'] })).id;

// The SDK always builds https://provisioning.<domain>/api/<path>; only the origin is rewritten.
// The interceptor receives and returns { url: URL, options: RequestInit }.
function client(accessToken, rewrite = (request) => request) {
  const cl = CommerceLayerProvisioning({ accessToken, domain: 'commercelayer.io' });
  cl.addRequestInterceptor((request) => {
    const url = new URL(request.url);
    return rewrite({ ...request, url: new URL(`${base}/compat/commercelayer${url.pathname}${url.search}`) });
  });
  return cl;
}
const cl = client(key);

// The SDK's ApiError class is only a type: at run time the check is the static isApiError. Its
// status is the HTTP status, its code is that status as a string, and its errors are the body's
// errors[] as sent (title, detail, code, status, source.pointer).
async function apiError(promise, status, check = () => {}) {
  try {
    await promise;
  } catch (error) {
    assert.ok(CommerceLayerProvisioningStatic.isApiError(error), `${error.name}: ${error.message}`);
    assert.equal(error.status, status, JSON.stringify(error.errors));
    assert.ok(error.errors.length > 0, 'the error body has errors[]');
    check(error.errors);
    return;
  }
  assert.fail(`expected an ApiError ${status}`);
}
const pointers = (errors) => errors.map((error) => error.source?.pointer);
// A ListResponse is an Array subclass carrying meta: copy it out to compare plain arrays.
const emails = (list) => Array.from(list, (membership) => membership.user_email);

// Create: an invitation, so PENDING whatever the caller is; the user is found by e-mail or created
// without names. relationship() builds the { type, id } identifiers the SDK moves to relationships.
const invited = await cl.memberships.create({
  user_email: 'invited@example.com',
  access_scope: 'test_access',
  reference: 'crm-42',
  reference_origin: 'crm',
  metadata: { source: 'flow' },
  organization: cl.organizations.relationship(acme),
  role: cl.roles.relationship('role_standard'),
});
assert.equal(invited.type, 'memberships');
assert.match(invited.id, /^mem_/);
assert.deepEqual(
  [invited.user_email, invited.user_first_name, invited.user_last_name, invited.status, invited.owner],
  ['invited@example.com', null, null, 'pending', false],
);
assert.deepEqual([invited.access_scope, invited.reference, invited.reference_origin], ['test_access', 'crm-42', 'crm']);
assert.deepEqual(invited.metadata, { source: 'flow' });
assert.ok(invited.created_at && invited.updated_at);
const invitedNatively = await native(key, 'GET', `/v1/memberships/${invited.id}`);
assert.deepEqual([invitedNatively.status, invitedNatively.role, invitedNatively.organisation_id], ['pending', 'STANDARD', acme]);
const guest = await cl.memberships.create({
  user_email: 'guest@example.com',
  organization: cl.organizations.relationship(acme),
  role: cl.roles.relationship('role_admin'),
});
assert.equal(guest.status, 'pending');
assert.equal((await native(key, 'GET', `/v1/memberships/${guest.id}`)).role, 'ADMIN');

// Create errors: 422s whose errors[] point at the member of the document at fault.
const toAcme = { organization: cl.organizations.relationship(acme), role: cl.roles.relationship('role_standard') };
await apiError(cl.memberships.create({ user_email: 'nobody@example.com', role: toAcme.role }), 422,
  (errors) => assert.ok(pointers(errors).includes('/data/relationships/organization'), JSON.stringify(errors)));
await apiError(cl.memberships.create({ user_email: 'nobody@example.com', ...toAcme, organization: cl.organizations.relationship('org_missing') }), 422,
  (errors) => assert.ok(pointers(errors).includes('/data/relationships/organization'), JSON.stringify(errors)));
// A custom role of another organisation is not a role of this one.
await apiError(cl.memberships.create({ user_email: 'nobody@example.com', ...toAcme, role: cl.roles.relationship(betaRole) }), 422,
  (errors) => assert.ok(pointers(errors).includes('/data/relationships/role'), JSON.stringify(errors)));
await apiError(cl.memberships.create({ ...toAcme }), 422,
  (errors) => assert.ok(pointers(errors).includes('/data/attributes/user_email'), JSON.stringify(errors)));
await apiError(cl.memberships.create({ user_email: 'invited@example.com', ...toAcme }), 422,
  (errors) => assert.ok(errors.some((error) => error.code === 'MEMBERSHIP_ALREADY_EXISTS'), JSON.stringify(errors)));

// Lists: the SDK sends filters as filter[q][...] (arrays joined by commas, only for *_in and the
// like) and reads its totals from meta.record_count and meta.page_count.
// Acme: owner and standard (active), invited and guest (pending); Beta: one active.
const everything = await cl.memberships.list();
assert.deepEqual([everything.length, everything.meta.recordCount, everything.meta.pageCount], [5, 5, 1]);
const active = await cl.memberships.list({ filters: { status_eq: 'active' } });
assert.deepEqual(emails(active).sort(), ['beta@example.com', 'owner@example.com', 'standard@example.com']);
assert.ok(active.every((membership) => membership.status === 'active'), 'natively accepted reads active');
const pending = await cl.memberships.list({ filters: { status_eq: 'pending' } });
assert.deepEqual(emails(pending).sort(), ['guest@example.com', 'invited@example.com']);
assert.equal((await cl.memberships.list({ filters: { status_in: ['pending', 'active'] } })).meta.recordCount, 5);
assert.equal((await cl.memberships.list({ filters: { organization_id_eq: acme } })).meta.recordCount, 4);
assert.equal((await cl.memberships.list({ filters: { organization_id_eq: beta } })).meta.recordCount, 1);
assert.equal((await cl.memberships.list({ filters: { organization_id_in: [acme, beta] } })).meta.recordCount, 5);
assert.deepEqual(emails(await cl.memberships.list({ filters: { organization_id_eq: acme, status_eq: 'active' } })).sort(),
  ['owner@example.com', 'standard@example.com']);
const byEmail = await cl.memberships.list({ filters: { user_email_eq: 'invited@example.com' } });
assert.deepEqual(Array.from(byEmail, (membership) => membership.id), [invited.id]);

// include: the SDK puts included resources in place of the relationship identifiers.
const [withIncludes] = await cl.memberships.list({ include: ['organization', 'role'], filters: { user_email_eq: 'invited@example.com' } });
assert.deepEqual([withIncludes.organization.type, withIncludes.organization.id, withIncludes.organization.name], ['organizations', acme, 'Acme']);
assert.deepEqual([withIncludes.role.type, withIncludes.role.id, withIncludes.role.name, withIncludes.role.kind], ['roles', 'role_standard', 'Standard', 'read_only']);
const ownerWithIncludes = await cl.memberships.retrieve(owner.id, { include: ['organization', 'role'] });
assert.deepEqual([ownerWithIncludes.owner, ownerWithIncludes.organization.name, ownerWithIncludes.role.name, ownerWithIncludes.role.kind],
  [true, 'Acme', 'Admin', 'admin']);

// Sort and paging: oldest first, two a page, the second page; then newest first, and the default
// (-created_at). The SDK's currentPage and recordsPerPage echo what it asked for.
const page2 = await cl.memberships.list({ filters: { organization_id_eq: acme }, sort: ['created_at'], pageSize: 2, pageNumber: 2 });
assert.deepEqual(emails(page2), ['invited@example.com', 'guest@example.com']);
assert.deepEqual(page2.meta, { pageCount: 2, recordCount: 4, currentPage: 2, recordsPerPage: 2 });
assert.deepEqual([page2.hasNextPage(), page2.hasPrevPage()], [false, true]);
const newest = await cl.memberships.list({ filters: { organization_id_eq: acme }, sort: { created_at: 'desc' }, pageSize: 2 });
assert.deepEqual(emails(newest), ['guest@example.com', 'invited@example.com']);
assert.equal(newest.hasNextPage(), true);
assert.deepEqual(emails(await cl.memberships.list({ filters: { organization_id_eq: acme } })),
  ['guest@example.com', 'invited@example.com', 'standard@example.com', 'owner@example.com']);
assert.equal((await cl.memberships.list({ sort: ['-updated_at'], pageSize: 1 })).meta.pageCount, 5);

// count(): one record a page, the total from meta.record_count; filters given either way.
assert.equal(await cl.memberships.count(), 5);
assert.equal(await cl.memberships.count({ filters: { status_eq: 'pending' } }), 2);
assert.equal(await cl.memberships.count({ organization_id_eq: acme, status_eq: 'active' }), 2);

// Retrieve: the natively accepted membership reads active, with the names it was created with.
const read = await cl.memberships.retrieve(invited.id);
assert.deepEqual([read.id, read.user_email, read.status, read.created_at], [invited.id, 'invited@example.com', 'pending', invited.created_at]);
const accepted = await cl.memberships.retrieve(standard.id);
assert.deepEqual([accepted.status, accepted.user_first_name, accepted.user_last_name, accepted.owner], ['active', 'Ada', 'Lovelace', false]);

// Update: attributes and the role relationship; what is not sent is kept. A custom role makes the
// membership STANDARD with that role, and it reads back as the membership's role.
const updated = await cl.memberships.update({
  id: invited.id,
  access_scope: 'all_access',
  reference: 'crm-43',
  metadata: { source: 'flow', tier: 'gold' },
  role: cl.roles.relationship(billing),
});
assert.deepEqual([updated.id, updated.access_scope, updated.reference, updated.reference_origin, updated.status],
  [invited.id, 'all_access', 'crm-43', 'crm', 'pending']);
assert.deepEqual(updated.metadata, { source: 'flow', tier: 'gold' });
const updatedNatively = await native(key, 'GET', `/v1/memberships/${invited.id}`);
assert.deepEqual([updatedNatively.role, updatedNatively.role_ids, updatedNatively.reference], ['STANDARD', [billing], 'crm-43']);

// The related resources, fetched on their own.
const organization = await cl.memberships.organization(invited.id);
assert.deepEqual([organization.type, organization.id, organization.name], ['organizations', acme, 'Acme']);
const custom = await cl.memberships.role(invited.id);
assert.deepEqual([custom.type, custom.id, custom.name, custom.kind], ['roles', billing, 'Billing', 'custom']);
const admin = await cl.memberships.role(guest.id);
assert.deepEqual([admin.id, admin.name, admin.kind], ['role_admin', 'Admin', 'admin']);
assert.equal((await cl.memberships.role(standard.id)).id, 'role_standard');

// Versions: the membership's history, newest first (the update, then the create), with its
// changes as {field: [old, new]} and who made them.
const versions = await cl.memberships.versions(invited.id);
assert.deepEqual(Array.from(versions, (version) => [version.type, version.event, version.item_id]),
  [['versions', 'update', invited.id], ['versions', 'create', invited.id]]);
assert.deepEqual(versions[0].object_changes.reference, ['crm-42', 'crm-43']);
assert.equal(versions[0].who.type, 'key');
assert.equal(versions.meta.recordCount, 2);

// Resend: only an invitation can be sent again. The SDK posts {"data":{}} and reads nothing back.
assert.equal(await cl.memberships.resend(invited.id), undefined);
await apiError(cl.memberships.resend(standard.id), 422);

// A user token: the owner's accepted ADMIN membership lets it read and write Acme's memberships,
// and only those.
const token = (await native(key, 'POST', '/v1/api-keys', { name: 'session', user_id: owner.user_id })).secret;
const asOwner = client(token);
const seen = await asOwner.memberships.list({ include: ['organization'] });
assert.equal(seen.meta.recordCount, 4);
assert.ok(seen.every((membership) => membership.organization.id === acme), "the owner reads its organisation's memberships");
assert.equal((await asOwner.memberships.update({ id: invited.id, reference: 'by-owner' })).reference, 'by-owner');

// Delete, then it is gone.
assert.equal(await cl.memberships.delete(guest.id), undefined);
await apiError(cl.memberships.retrieve(guest.id), 404);
await apiError(cl.memberships.delete(guest.id), 404);
assert.equal(await cl.memberships.count({ organization_id_eq: acme }), 3);

// Credentials Roster refuses: an unknown token, one of the right shape with a wrong checksum, and
// none at all (the SDK requires a token, so the interceptor takes the header off).
const invalidToken = (errors) => assert.equal(errors[0].code, 'INVALID_TOKEN');
await apiError(client('sk_live_nope').memberships.list(), 401, invalidToken);
const mistyped = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
await apiError(client(mistyped).memberships.retrieve(invited.id), 401, invalidToken);
const anonymous = client('unused', (request) => {
  const { Authorization: _, ...headers } = request.options.headers;
  return { ...request, options: { ...request.options, headers } };
});
await apiError(anonymous.memberships.list(), 401, (errors) => assert.equal(errors[0].code, 'UNAUTHORIZED'));

console.log('commercelayer client flow: ok');
