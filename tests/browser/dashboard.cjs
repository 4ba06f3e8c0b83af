// The dashboard end to end in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// a real stack (`warren up --detach`: its own RabbitMQ, serve, a worker, on free loopback ports, with a
// token), then load the overview, filter the jobs table, open a dead job, read its logs, retry it and
// watch it reach `succeeded` live over the event stream. A screenshot of each page goes to OUT_DIR.
//
// node dashboard.cjs   with WARREN_BINARY, WARREN_NODE_MODULES, WARREN_BROWSER_OUT (and optionally
// WARREN_CHROMIUM, default /usr/bin/chromium). Exit 0 when every check passed.
'use strict';

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const httpClient = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const binary = process.env.WARREN_BINARY;
const modules = process.env.WARREN_NODE_MODULES;
const outDir = process.env.WARREN_BROWSER_OUT;
const chromiumPath = process.env.WARREN_CHROMIUM || '/usr/bin/chromium';
if (!binary || !modules || !outDir) {
  console.error('set WARREN_BINARY, WARREN_NODE_MODULES and WARREN_BROWSER_OUT');
  process.exit(2);
}
const { chromium } = require(path.join(modules, 'playwright-core'));

const TOKEN = 'browser-test-secret';
const TIMEOUT = 90_000;  // generous: two cores shared with a broker and other tests

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run(args, env) {
  const result = childProcess.spawnSync(binary, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 180_000 });
  return { code: result.status, out: `${result.stdout || ''}${result.stderr || ''}` };
}

async function waitFor(what, check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-browser-'));
  const http = await freePort();
  const base = `http://127.0.0.1:${http}`;
  const upArgs = ['up', '--detach', '--data-dir', dataDir, '--workers', '1', '--listen', `127.0.0.1:${http}`,
    '--broker-port', String(await freePort()), '--management-port', String(await freePort()),
    '--dist-port', String(await freePort()), '--epmd-port', String(await freePort())];
  const env = { WARREN_TOKENS: `${TOKEN}:admin` };
  let browser = null;
  try {
    const up = run(upArgs, env);
    assert.equal(up.code, 0, `warren up --detach failed:\n${up.out}`);

    // node:http rather than fetch: Debian's Node 18 takes fetch from a separate package (undici).
    const api = (method, target, body) => new Promise((resolve, reject) => {
      const payload = body ? JSON.stringify(body) : '';
      const req = httpClient.request(base + target, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => { text += chunk; });
        res.on('end', () => {
          if (res.statusCode >= 300) reject(new Error(`${method} ${target}: ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text));
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
    const echo = [];
    for (let i = 0; i < 3; i++) echo.push((await api('POST', '/v1/jobs', { type: 'warren.echo', args: { n: i, html: '<img src=x onerror=alert(1)>' } })).id);
    const failing = (await api('POST', '/v1/jobs', { type: 'warren.fail', max_attempts: 1 })).id;
    // Fails its first attempt and succeeds on the next: dead with max_attempts 1, then retried.
    const flaky = (await api('POST', '/v1/jobs', { type: 'warren.flaky', max_attempts: 1, args: { fail_attempts: 1 } })).id;
    for (const id of [flaky, failing]) await waitFor(`job ${id} dead`, async () => (await api('GET', `/v1/jobs/${id}`)).state === 'dead');
    for (const id of echo) await waitFor(`job ${id} succeeded`, async () => (await api('GET', `/v1/jobs/${id}`)).state === 'succeeded');
    await waitFor('the flaky job\'s log line', async () => (await api('GET', `/v1/jobs/${flaky}/logs`)).lines.length > 0);

    browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const problems = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/401|Unauthorized/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('dialog', (dialog) => problems.push(`unexpected dialog: ${dialog.message()}`));
    const shot = async (name) => {
      const file = path.join(outDir, name);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`screenshot: ${file}`);
    };

    // Overview: the API answers 401, the page asks for the token and keeps it for the tab.
    const resp = await page.goto(`${base}/ui`);
    assert.equal(resp.status(), 200);
    const csp = resp.headers()['content-security-policy'] || '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|https?:/);
    await page.waitForSelector('#token-form:not([hidden])');
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('#queues-table tr[data-queue="default"]');
    await page.waitForSelector('#workers-table tbody tr .badge[data-state="running"]');
    // The chart counts the attempts that finished in the last minutes: the jobs above are in it.
    await page.waitForFunction(() => [...document.querySelectorAll('#throughput-chart rect.ok')].some((r) => Number(r.getAttribute('height')) > 0));
    await page.waitForFunction(() => [...document.querySelectorAll('#throughput-chart rect.bad')].some((r) => Number(r.getAttribute('height')) > 0));
    await page.waitForSelector('#live-status.online');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('warren.token')), TOKEN);
    await shot('overview.png');

    // Jobs table: filter by state, then by type; the args' HTML stays text.
    await page.click('a[data-nav="jobs"]');
    await page.waitForSelector('#jobs-table tbody tr[data-id]');
    await page.selectOption('#filter-state', 'dead');
    await page.waitForFunction(() => location.hash.includes('state=dead'));
    await page.waitForFunction((ids) => {
      const rows = [...document.querySelectorAll('#jobs-table tbody tr[data-id]')];
      return rows.length === ids.length && rows.every((r) => r.dataset.state === 'dead') && ids.every((id) => rows.some((r) => r.dataset.id === id));
    }, [flaky, failing]);
    await page.selectOption('#filter-state', '');
    await page.fill('#filter-type', 'warren.echo');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction((ids) => {
      const rows = [...document.querySelectorAll('#jobs-table tbody tr[data-id]')];
      return rows.length === ids.length && rows.every((r) => ids.includes(r.dataset.id));
    }, echo);
    await shot('jobs.png');

    // An echo job's detail shows its args as text, never as markup.
    await page.click(`#jobs-table a[href="#/jobs/${echo[0]}"]`);
    await page.waitForSelector('#job-state .badge[data-state="succeeded"]');
    assert.match(await page.textContent('#job-args'), /<img src=x onerror=alert\(1\)>/);
    assert.equal(await page.locator('#job-args img').count(), 0);

    // Open the dead flaky job by id, read its log, retry it and watch it succeed live.
    await page.click('a[data-nav="jobs"]');
    await page.fill('#search-id', flaky);
    await page.click('#search button[type=submit]');
    await page.waitForSelector('#job-state .badge[data-state="dead"]');
    await page.waitForFunction(() => document.querySelector('#job-logs').textContent.includes('warren.flaky: attempt 1'));
    assert.match(await page.textContent('#job-error-text'), /attempt 1 fails on purpose/);
    await page.click('#retry-button');
    await page.waitForSelector('#job-state .badge[data-state="succeeded"]');
    await page.waitForSelector('#timeline li[data-attempt="2"][data-outcome="succeeded"]');
    await page.waitForFunction(() => document.querySelector('#job-logs').textContent.includes('warren.flaky: attempt 2'));
    assert.match(await page.textContent('#job-result'), /"attempt": 2/);
    await shot('job.png');

    // Retry all dead jobs of the queue: the remaining dead one (warren.fail) goes again and dies again.
    await page.goto(`${base}/ui#/`);
    await page.waitForSelector('#queues-table tr[data-queue="default"] button.retry-dead');
    // Warren's own queues are listed without a retry button, and the dead jobs in warren.dead are not
    // counted as jobs waiting.
    await page.waitForSelector('#queues-table tr[data-queue="warren.unrouted"]');
    assert.equal(await page.locator('#queues-table tr[data-queue^="warren."] button').count(), 0);
    await page.waitForFunction(() => {
      const deadReady = Number(document.querySelector('#queues-table tr[data-queue="warren.dead"] td:nth-child(2)').textContent);
      return deadReady > 0 && document.querySelector('#card-ready').textContent === '0';
    });
    page.removeAllListeners('dialog');
    page.once('dialog', (dialog) => dialog.accept());
    await page.click('#queues-table tr[data-queue="default"] button.retry-dead');
    await page.waitForSelector('#notice:not([hidden])');
    assert.match(await page.textContent('#notice'), /1 dead job\(s\) of default queued again/);
    await waitFor('the failing job tried again', async () => (await api('GET', `/v1/jobs/${failing}`)).attempts.length === 2);

    assert.deepEqual(problems, []);
    console.log('dashboard: every check passed');
  } finally {
    if (browser) await browser.close();
    const down = run(['down', '--data-dir', dataDir]);
    if (down.code !== 0) console.error(`warren down: ${down.out}`);
    const log = path.join(dataDir, 'warren-up.log');
    if (process.exitCode && fs.existsSync(log)) console.error(fs.readFileSync(log, 'utf8').slice(-4000));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exitCode = 1;
});
