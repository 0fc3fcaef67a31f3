// The console in a real browser: Debian's Chromium driven by playwright-core against a running
// `roster serve`. Signs in, creates an organisation, invites a member, changes their role, meets
// the last-admin rule, creates and revokes a key, pages through a large organisation, is refused
// a forged form, signs out; a non-admin group's key does not see other organisations. Every
// main page passes axe-core with no serious or critical violation, on a desktop and on a
// phone-sized screen, and is saved as a screenshot (ROSTER_SCREENSHOTS, default a temporary
// directory; not committed).
// Environment: ROSTER_URL (http://HOST:PORT), ROSTER_MASTER_KEY; CHROMIUM (default
// /usr/bin/chromium).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.ROSTER_URL;
const master = process.env.ROSTER_MASTER_KEY;
assert.ok(base && master, 'ROSTER_URL and ROSTER_MASTER_KEY are required');
const shots = process.env.ROSTER_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'roster-console-'));
mkdirSync(shots, { recursive: true });
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

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

const partner = await native(master, 'POST', '/v1/partners', { name: `Console ${Date.now()}` });
const live = partner.admin_keys.find((issued) => issued.mode === 'live').secret;
const member = (organisation_id, email, role) =>
  native(live, 'POST', '/v1/memberships', { organisation_id, email, role, first_name: 'Pat', last_name: email.split('@')[0] });

// A large organisation to page through, and one whose only admin may not step down.
const big = await native(live, 'POST', '/v1/organisations', { name: 'Big Co' });
const bigMembers = 120;
for (let start = 0; start < bigMembers; start += 20) {
  await Promise.all(Array.from({ length: 20 }, (_, n) => member(big.id, `big${start + n}@example.com`, 'STANDARD')));
}
const ruled = await native(live, 'POST', '/v1/organisations', { name: 'Ruled Co' });
const onlyAdmin = await member(ruled.id, 'only.admin@example.com', 'ADMIN');
await member(ruled.id, 'someone@example.com', 'STANDARD');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});

// axe-core goes in as a script of its own, which the console's policy would refuse: only the
// checking contexts bypass it.
async function accessible(page, name) {
  await page.addScriptTag({ path: axePath });
  const results = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = results.violations.filter((violation) => ['serious', 'critical'].includes(violation.impact));
  assert.deepEqual(
    serious.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`),
    [],
    `${name}: accessibility violations`,
  );
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function signIn(page, secret) {
  await page.goto(`${base}/console`);
  assert.equal(await page.locator('h1').textContent(), 'Sign in to Roster');
  await page.getByLabel('Secret key').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/console/organisations`);
}

const desktop = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
const page = await desktop.newPage();

// Keyboard first: the first Tab reaches the skip link.
await page.goto(`${base}/console/sign-in`);
await accessible(page, 'sign-in');
await page.keyboard.press('Tab');
assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');

await signIn(page, live);
await accessible(page, 'organisations');

// Create an organisation, invite someone, change their role.
const createForm = page.locator('form', { has: page.getByRole('button', { name: 'Create organisation' }) });
await createForm.getByLabel('Name').fill('Acme');
await createForm.getByRole('button', { name: 'Create organisation' }).click();
await page.getByText('Organisation created.').waitFor();
const acmeUrl = page.url().split('?')[0];
const inviteForm = page.locator('form', { has: page.getByRole('button', { name: 'Invite' }) });
await inviteForm.getByLabel('E-mail').fill('bea@example.com');
await inviteForm.getByLabel('First name').fill('Bea');
await inviteForm.getByLabel('Last name').fill('Brown');
await inviteForm.getByLabel('Role').selectOption('STANDARD');
await page.getByRole('button', { name: 'Invite' }).click();
await page.getByText('Invitation created.').waitFor();
await accessible(page, 'organisation');
await page.getByRole('link', { name: 'bea@example.com' }).click();
await page.getByLabel('Role').selectOption('ADMIN');
await page.getByRole('button', { name: 'Save changes' }).click();
await page.getByText('Membership changed.').waitFor();
await accessible(page, 'membership');
assert.match(await page.locator('dl.facts').textContent(), /Admin/);

// The last admin may not step down: the rule is shown in words, and nothing changes.
await page.goto(`${base}/console/memberships/${onlyAdmin.id}`);
await page.getByLabel('Role').selectOption('STANDARD');
await page.getByRole('button', { name: 'Save changes' }).click();
const alert = await page.getByRole('alert').textContent();
assert.match(alert, /last admin of an organisation with other members/i);
assert.equal((await native(live, 'GET', `/v1/memberships/${onlyAdmin.id}`)).role, 'ADMIN');

// A key: created with its secret shown once and a copy button, then revoked.
await page.goto(`${base}/console/keys`);
const keyForm = page.locator('form', { has: page.getByRole('button', { name: 'Create key' }) });
await keyForm.getByLabel('Name').fill('Console key');
await keyForm.getByRole('button', { name: 'Create key' }).click();
const secret = (await page.locator('#new-secret').textContent()).trim();
assert.match(secret, /^sk_live_/);
assert.ok(await page.getByRole('button', { name: 'Copy secret' }).isVisible());
await accessible(page, 'keys');
await page.getByRole('button', { name: 'Revoke Console key' }).click();
await page.getByText('Key revoked.').waitFor();
const revoked = await fetch(`${base}/v1/organisations`, { headers: { Authorization: `Bearer ${secret}` } });
assert.equal(revoked.status, 401);

// Finding an organisation by the start of its name, in any case.
await page.goto(`${base}/console/organisations`);
await page.getByLabel('Find by the start of its name').fill('bIG');
await page.getByRole('button', { name: 'Find' }).click();
const found = await page.locator('main table tbody').textContent();
assert.ok(found.includes('Big Co') && !found.includes('Ruled Co') && !found.includes('Acme'), found);

// Paging through the large organisation, fifty members at a time.
await page.getByRole('link', { name: 'Big Co' }).click();
await page.screenshot({ path: join(shots, 'members.png') });
let seen = 0;
for (;;) {
  seen += await page.locator('table.members tbody tr').count();
  const next = page.getByRole('link', { name: 'Next page' });
  if ((await next.count()) === 0) break;
  await next.click();
}
assert.equal(seen, bigMembers);

// Finding members by the start of their name, in name order.
await page.getByLabel('Name starts with').fill('PAT BIG11');
await page.getByRole('button', { name: 'Find' }).click();
const named = await page.locator('table.members tbody tr td:first-child').allTextContents();
assert.deepEqual(named, ['big11@example.com', ...Array.from({ length: 10 }, (_, n) => `big11${n}@example.com`)]);

for (const [name, path] of [['roles', '/console/roles'], ['events', '/console/events'], ['webhooks', '/console/webhooks']]) {
  await page.goto(`${base}${path}`);
  await accessible(page, name);
}

// A forged form (its CSRF token changed) is refused, and creates nothing.
await page.goto(`${base}/console/organisations`);
await page.evaluate(() => {
  const form = document.querySelector('form[method="post"][action="/console/organisations"]');
  form.querySelector('input[name="csrf"]').value = 'forged';
  form.querySelector('input[name="name"]').value = 'Forged Co';
  form.submit();
});
await page.getByText('did not come from the console').waitFor();
const names = (await native(live, 'GET', '/v1/organisations?limit=100')).results.map((o) => o.name);
assert.ok(!names.includes('Forged Co'));

// Sign out: the session is over.
await page.goto(`${base}/console/organisations`);
await page.getByRole('button', { name: 'Sign out' }).click();
await page.waitForURL(`${base}/console/sign-in`);
await page.goto(`${base}/console/organisations`);
assert.equal(page.url(), `${base}/console/sign-in`);

// A non-admin group's key sees its organisations only, on a phone-sized screen.
const acmeId = acmeUrl.split('/').pop();
const group = await native(live, 'POST', '/v1/partner-groups', { name: 'Support', organisation_ids: [acmeId] });
const groupKey = (await native(live, 'POST', '/v1/api-keys', { name: 'support', partner_group_id: group.id, abilities: ['*'] })).secret;
const phone = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
const small = await phone.newPage();
await signIn(small, groupKey);
const listed = await small.locator('main').textContent();
assert.ok(listed.includes('Acme') && !listed.includes('Big Co'), listed);
await accessible(small, 'phone-organisations');
await small.goto(acmeUrl);
assert.ok(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling');
await accessible(small, 'phone-organisation');
const foreign = await small.goto(`${base}/console/organisations/${big.id}`);
assert.equal(foreign.status(), 404);

await browser.close();
console.log(`console flow passed; screenshots in ${shots}`);
