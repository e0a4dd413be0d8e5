// Browser test of the Posthorn webmail: Playwright (playwright-core) driving
// Debian's Chromium, headless, against a real `posthorn serve`.
//
// Started by tests/integration/test_webmail_browser.py, which runs the
// server and answers requests this script prints on stdout ("ASK <verb>
// <arg>"; the driver replies "OK" on stdin) for what only a real mail
// client can do: deliver over SMTP, set a flag over IMAP. Environment:
//   POSTHORN_URL (http://127.0.0.1:PORT), POSTHORN_USER, POSTHORN_PASSWORD,
//   SCREENSHOTS (folder for the screenshots of the main screens).
// Exits non-zero on the first failure, with what was expected.
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const URL_ = process.env.POSTHORN_URL;
const USER = process.env.POSTHORN_USER;
const PASSWORD = process.env.POSTHORN_PASSWORD;
const SHOTS = process.env.SCREENSHOTS || 'build/screenshots';
const T = 15000;

mkdirSync(SHOTS, { recursive: true });
const rl = createInterface({ input: process.stdin });
const answers = [];
let waiting = null;
rl.on('line', (l) => { if (waiting) { const w = waiting; waiting = null; w(l); } else answers.push(l); });
function ask(verb, arg) {
  process.stdout.write(`ASK ${verb} ${arg}\n`);
  return new Promise((resolve, reject) => {
    const done = (l) => (l.startsWith('OK') ? resolve(l) : reject(new Error(`driver: ${l}`)));
    if (answers.length) done(answers.shift());
    else waiting = done;
  });
}

let step = 'start';
function log(s) {
  step = s;
  process.stdout.write(`STEP ${s}\n`);
}
function check(cond, what) {
  if (!cond) throw new Error(`${step}: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
    '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions',
    '--metrics-recording-only', '--no-default-browser-check', '--disable-features=Translate,OptimizationHints,MediaRouter'],
});

// Every request that is not for our server is recorded and refused: the
// machines are offline, and the webmail must never reach outside by itself.
const outside = [];
const dialogs = [];
const pageErrors = [];
const cspViolations = [];
let promptAnswer = null;
const context = await browser.newContext({ viewport: { width: 1366, height: 860 }, acceptDownloads: true });
await context.route('**/*', (route) => {
  const u = new URL(route.request().url());
  if (u.origin === new URL(URL_).origin || u.protocol === 'data:') return route.continue();
  outside.push(route.request().url());
  return route.abort();
});
const page = await context.newPage();
page.on('dialog', async (d) => {
  // Our own confirm() and prompt() (folders, emptying Trash) are expected;
  // an alert() is a script that ran.
  dialogs.push(`${d.type()}: ${d.message()}`);
  if (d.type() === 'confirm') await d.accept();
  else if (d.type() === 'prompt' && promptAnswer !== null) await d.accept(promptAnswer);
  else await d.dismiss();
});
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => {
  // The app's own page must never trip its policy (the message frame may:
  // that is the policy blocking what the sanitizer already removed).
  if (/Content.Security.Policy/i.test(m.text()) && !(m.location().url || '').includes('/html')) cspViolations.push(m.text());
});
page.setDefaultTimeout(T);

const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`) });
const row = (subject) => page.locator('#messages li.msg', { hasText: subject });
async function openFolder(name) {
  await page.locator('#folders a.folder', { hasText: name }).first().click();
  await page.locator('#list-title', { hasText: name }).waitFor();
}

try {
  log('login page');
  await page.goto(URL_ + '/');
  await page.locator('#login-user').waitFor();
  await shot('01-login');
  await page.fill('#login-user', USER);
  await page.fill('#login-pass', 'wrong password');
  await page.click('.login-box button[type=submit]');
  await page.locator('#login-error', { hasText: 'Wrong address or password' }).waitFor();
  await page.fill('#login-pass', PASSWORD);
  await page.click('.login-box button[type=submit]');
  await page.locator('#folders').waitFor();
  await page.locator('#list-title', { hasText: 'Inbox' }).waitFor();
  const cookies = await context.cookies();
  const sid = cookies.find((c) => c.name === 'posthorn_sid');
  check(sid && sid.httpOnly && sid.sameSite === 'Strict', 'session cookie HttpOnly, SameSite=Strict');
  check(!page.url().includes(sid.value), 'no session id in the URL');
  check(await page.evaluate(() => document.cookie === ''), 'the page cannot read the session cookie');

  log('read a message delivered over SMTP');
  await row('Welcome to Posthorn').waitFor();
  await shot('02-inbox');
  await row('Welcome to Posthorn').locator('a.open').click();
  await page.locator('#msg-subject', { hasText: 'Welcome to Posthorn' }).waitFor();
  await page.locator('.text-body', { hasText: 'delivered over SMTP' }).waitFor();
  await page.locator('#folders a.folder.current .badge').waitFor({ state: 'detached' }).catch(() => {});
  await shot('03-reader');

  log('compose to yourself with an attachment');
  await page.click('#compose-btn');
  await page.locator('form.compose').waitFor();
  await page.fill('#c-to', USER);
  await page.fill('#c-subject', 'Browser test with attachment');
  await page.fill('#c-body', 'Hello from Chromium.\nThe attachment is a small text file.');
  await page.setInputFiles('#c-file', { name: 'notes é.txt', mimeType: 'text/plain', buffer: Buffer.from('attached notes\n'.repeat(2000)) });
  await page.locator('form.compose li.att:not(.uploading)', { hasText: 'notes é.txt' }).waitFor();
  await shot('04-compose');
  await page.click('form.compose button[type=submit]');
  await page.locator('form.compose').waitFor({ state: 'detached' });
  await page.locator('#toast', { hasText: 'Message sent' }).waitFor();
  // It arrives in the open page by itself (server push), no reload.
  await row('Browser test with attachment').waitFor();
  await row('Browser test with attachment').locator('a.open').click();
  await page.locator('#msg-subject', { hasText: 'Browser test with attachment' }).waitFor();
  await page.locator('.reader .attachments a', { hasText: 'notes é.txt' }).waitFor();
  const dl = page.waitForEvent('download');
  await page.locator('.reader .attachments a', { hasText: 'notes é.txt' }).click();
  const file = await dl;
  check(file.suggestedFilename() === 'notes é.txt', `download name (${file.suggestedFilename()})`);

  log('reply');
  await page.click('#reply-btn');
  await page.locator('form.compose').waitFor();
  check((await page.inputValue('#c-subject')) === 'Re: Browser test with attachment', 'reply subject');
  check((await page.inputValue('#c-to')).includes(USER), 'reply goes to the sender');
  check((await page.inputValue('#c-body')).includes('> Hello from Chromium.'), 'reply quotes the original');
  await page.locator('#c-body').press('Control+Home');
  await page.locator('#c-body').type('Replying to myself. ');
  await page.click('form.compose button[type=submit]');
  await page.locator('form.compose').waitFor({ state: 'detached' });
  await row('Re: Browser test with attachment').waitFor();
  await row('Browser test with attachment').first().waitFor();

  log('address completion');
  await page.click('#compose-btn');
  await page.locator('#c-to').type(USER.slice(0, 3));
  await page.locator('#c-to-list li', { hasText: USER }).waitFor();
  await page.locator('#c-to').press('ArrowDown');
  await page.locator('#c-to').press('Enter');
  check((await page.inputValue('#c-to')).startsWith(USER), 'completion fills the address');
  await page.fill('#c-subject', 'A draft that saves itself');
  await page.fill('#c-body', 'Unfinished thoughts');
  await page.locator('.compose-status', { hasText: 'Draft saved' }).waitFor();
  await page.locator('form.compose header button').click(); // close, draft kept
  await openFolder('Drafts');
  await row('A draft that saves itself').waitFor();
  await openFolder('Inbox');

  log('search');
  await ask('deliver', 'Zeppelin budget|The zeppelin budget is attached.');
  await row('Zeppelin budget').waitFor();
  await page.fill('#search', 'zeppelin');
  await page.press('#search', 'Enter');
  await page.locator('#list-title', { hasText: 'Search: zeppelin' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#messages li.msg').length === 1);
  await row('Zeppelin budget').waitFor();
  await shot('05-search');
  await page.fill('#search', '');
  await page.locator('#list-title', { hasText: 'Inbox' }).waitFor();

  log('move');
  await row('Zeppelin budget').locator('input[type=checkbox]').check();
  await page.selectOption('#list-toolbar #move-select', { label: 'Archive' });
  await page.locator('#toast', { hasText: 'Moved to Archive' }).waitFor();
  await row('Zeppelin budget').waitFor({ state: 'detached' });
  await openFolder('Archive');
  await row('Zeppelin budget').waitFor();
  await openFolder('Inbox');

  log('delete');
  await row('Re: Browser test with attachment').locator('a.open').click();
  await page.locator('#msg-subject', { hasText: 'Re: Browser test with attachment' }).waitFor();
  await page.click('#delete-btn');
  await page.locator('#toast', { hasText: 'moved to Trash' }).waitFor();
  await row('Re: Browser test with attachment').waitFor({ state: 'detached' });
  await openFolder('Trash');
  await row('Re: Browser test with attachment').waitFor();
  await page.click('#empty-btn');
  await row('Re: Browser test with attachment').waitFor({ state: 'detached' });
  await openFolder('Inbox');

  log('a flag set over IMAP shows up in the open page');
  await ask('deliver', 'Flag me over IMAP|Please flag this one.');
  await row('Flag me over IMAP').waitFor();
  check(!(await row('Flag me over IMAP').locator('.star.on').count()), 'not flagged yet');
  await ask('imap-flag', 'Flag me over IMAP');
  await row('Flag me over IMAP').locator('.star.on').waitFor();
  // And the webmail's own flag reaches IMAP (checked by the driver).
  await row('Flag me over IMAP').locator('a.open').click();
  await page.locator('#msg-subject', { hasText: 'Flag me over IMAP' }).waitFor();
  await ask('imap-seen', 'Flag me over IMAP');

  log('hostile HTML: no script runs, nothing is fetched from outside');
  const before = outside.length;
  await ask('deliver-hostile', 'Hostile newsletter');
  await row('Hostile newsletter').waitFor();
  await row('Hostile newsletter').locator('a.open').click();
  await page.locator('#msg-subject', { hasText: 'Hostile newsletter' }).waitFor();
  const frameEl = page.locator('iframe.html-frame');
  await frameEl.waitFor();
  check((await frameEl.getAttribute('sandbox')) === 'allow-popups allow-popups-to-escape-sandbox', 'frame sandbox');
  const frame = await (await frameEl.elementHandle()).contentFrame();
  await frame.waitForLoadState();
  await frame.locator('h1', { hasText: 'Hello reader' }).waitFor();
  await page.waitForTimeout(1500); // time for anything that would run or load
  check(dialogs.filter((d) => !d.startsWith('confirm')).length === 0, `no script ran (dialogs: ${dialogs})`);
  check(outside.length === before, `no outside request (got ${outside.slice(before)})`);
  check(!(await frame.locator('script, iframe, form, input, button, svg, object, embed, video, meta[http-equiv], base, link').count()), 'dangerous elements gone');
  const imgs = await frame.locator('img').evaluateAll((els) => els.map((e) => e.getAttribute('src')));
  check(imgs.length === 1 && imgs[0].startsWith('data:image/png;base64,'), `only the cid: image, inline (${imgs})`);
  const cidLoaded = await frame.locator('img').evaluate((e) => e.complete && e.naturalWidth > 0);
  check(cidLoaded, 'the cid: image is shown');
  const links = await frame.locator('a').evaluateAll((els) => els.map((e) => [e.getAttribute('href'), e.getAttribute('target'), e.getAttribute('rel')]));
  check(links.every(([href, target, rel]) => href === null || (/^https?:|^mailto:/.test(href) && target === '_blank' && rel === 'noopener noreferrer')),
    `links open in a new tab without opener (${JSON.stringify(links)})`);
  check(await page.locator('#show-images').count() === 1, 'remote images are offered, not loaded');
  await shot('06-html-message');
  await page.click('#show-images');
  await page.waitForTimeout(1000);
  check(outside.some((u) => u.startsWith('https://tracker.example/')), 'remote images load once allowed');
  check(outside.every((u) => !u.includes('evil.example')), `nothing else from outside (${outside})`);

  log('folders: create, rename, delete');
  await page.fill('#new-folder', 'Projects');
  await page.press('#new-folder', 'Enter');
  await page.locator('#folders a.folder', { hasText: 'Projects' }).waitFor();
  promptAnswer = 'Projects 2026';
  await page.locator('#folders li', { hasText: 'Projects' }).hover();
  await page.click('button[aria-label="Rename folder Projects"]');
  await page.locator('#folders a.folder', { hasText: 'Projects 2026' }).waitFor();
  await page.locator('#folders li', { hasText: 'Projects 2026' }).hover();
  await page.click('button[aria-label="Delete folder Projects 2026"]');
  await page.locator('#folders a.folder', { hasText: 'Projects 2026' }).waitFor({ state: 'detached' });
  promptAnswer = null;

  log('settings');
  await page.click('#settings-btn');
  await page.locator('dialog.settings').waitFor();
  await page.fill('#s-name', 'Alice Browser');
  await page.fill('#s-signature', 'Sent from the browser test');
  await shot('07-settings');
  await page.click('#settings-save');
  await page.locator('#toast', { hasText: 'Settings saved' }).waitFor();
  await page.locator('#user-name', { hasText: 'Alice Browser' }).waitFor();

  log('keyboard');
  await page.locator('#messages li.msg a.open').first().focus();
  await page.keyboard.press('?');
  await page.locator('dialog.help').waitFor();
  await shot('08-shortcuts');
  await page.keyboard.press('Escape');
  await page.locator('dialog.help').waitFor({ state: 'detached' });
  await page.keyboard.press('c');
  await page.locator('form.compose').waitFor();
  check((await page.inputValue('#c-body')).includes('Sent from the browser test'), 'signature in new messages');
  await page.keyboard.press('Escape');
  await page.locator('form.compose').waitFor({ state: 'detached' });

  log('phone-sized screen');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(URL_ + '/#/m/' + (await page.locator('#folders a.folder', { hasText: 'Inbox' }).getAttribute('data-id')));
  await row('Welcome to Posthorn').waitFor();
  await shot('09-phone-list');
  await row('Welcome to Posthorn').locator('a.open').click();
  await page.locator('#msg-subject', { hasText: 'Welcome to Posthorn' }).waitFor();
  check(await page.locator('.list-pane').isHidden(), 'one pane at a time on a phone');
  await shot('10-phone-reader');
  await page.click('.reader .back');
  await row('Welcome to Posthorn').waitFor();
  await page.click('.menu-btn');
  await page.locator('#sidebar').waitFor();
  await shot('11-phone-folders');
  await page.setViewportSize({ width: 1366, height: 860 });

  log('logout');
  await page.click('#logout-btn');
  await page.locator('#login-user').waitFor();
  check(pageErrors.length === 0, `no page errors (${pageErrors})`);
  check(cspViolations.length === 0, `the page keeps to its own policy (${cspViolations})`);
  writeFileSync(join(SHOTS, 'outside-requests.txt'), outside.join('\n') + '\n');
  process.stdout.write('DONE\n');
} catch (e) {
  await shot('failure').catch(() => {});
  process.stdout.write(`FAIL ${step}: ${e.message.split('\n')[0]}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
  rl.close();
}
