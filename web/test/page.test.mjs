// The preview page in a real browser: Debian's Chromium, driven by
// puppeteer-core. The page is served from target/web/ on 127.0.0.1, and its
// bodies must equal, byte for byte, what `kamaji-telemetry preview --output
// json` prints for the same input. It builds nothing: `make web-test` (and
// `make test`) build the page, the plugins and the binary first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { readFile, readdir, writeFile, mkdir, rm } from 'node:fs/promises';
import { join, extname, dirname, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const site = join(root, 'target/web');
const out = join(root, 'target/web-test');
const bin = join(root, 'target/debug/kamaji-telemetry');
const components = join(root, 'target/components');
const fixture = join(root, 'tests/fixtures/plugins/kamaji-telemetry-plugin-0.1.0.wasm');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

let server;
let origin;
let browser;
const requests = [];
const served = [];

// ------------------------------------------------------------------ the CLI

// The CLI's environment, without the installation variables: the page's
// defaults are the CLI's defaults.
const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('KAMAJI_TELEMETRY_')));

// The installation both are given: the default plugin refuses a heartbeat
// without a cluster UID.
const INSTALLATION = { 'cluster-uid': '6f1c2a9e-3b7d-4e0a-9c55-2d8e41f7a0b3', 'kamaji-version': 'v1.0.0', 'kubernetes-version': 'v1.30.2-eks-5e0fdde' };
const INSTALLATION_HASH = `&${new URLSearchParams(INSTALLATION)}`;

function preview(file, plugin, installation = INSTALLATION) {
  const args = plugin ? ['--plugin', plugin, '--no-cache'] : [];
  const flags = Object.entries(installation).flatMap(([name, value]) => [`--${name}`, value]);
  const result = spawnSync(bin, [...args, 'preview', '--output', 'json', ...flags, file], { env: cliEnv, encoding: 'utf8' });
  assert.equal(result.error, undefined, `cannot run ${bin}`);
  return { lines: result.stdout.split('\n').filter((line) => line !== ''), stderr: result.stderr };
}

// ------------------------------------------------------------- YAML inputs

// Block-style YAML for a JSON value (strings double-quoted, which YAML reads
// as JSON strings): the decoder must take it as it takes the JSON.
function yaml(value, indent = '') {
  if (Array.isArray(value)) {
    if (value.length === 0) return ' []';
    return value.map((item) => {
      const inner = yaml(item, `${indent}  `);
      return `\n${indent}-${inner.startsWith('\n') ? inner.replace(/^\n\s*/, ' ') : inner}`;
    }).join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return ' {}';
    return entries.map(([key, item]) => `\n${indent}${JSON.stringify(key)}:${yaml(item, `${indent}  `)}`).join('');
  }
  return ` ${JSON.stringify(value)}`;
}

async function inputs() {
  const files = [];
  const yamlDocuments = [];
  await mkdir(join(out, 'inputs'), { recursive: true });
  for (const name of (await readdir(join(root, 'samples'))).sort()) {
    const file = join(root, 'samples', name);
    files.push(file);
    const text = await readFile(file, 'utf8');
    const document = `${yaml(JSON.parse(text)).replace(/^\n/, '')}\n`;
    yamlDocuments.push(document);
    const yamlFile = join(out, 'inputs', name.replace(/\.json$/, '.yaml'));
    await writeFile(yamlFile, document);
    files.push(yamlFile);
  }
  const stream = join(out, 'inputs', 'all.yaml');
  await writeFile(stream, yamlDocuments.map((document) => `---\n${document}`).join(''));
  files.push(stream);
  return files;
}

// ------------------------------------------------------------------ server

before(async () => {
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  server = createServer(async (request, response) => {
    served.push(request.url);
    const path = normalize(join(site, decodeURIComponent(new URL(request.url, 'http://x').pathname)));
    if (!path.startsWith(site + sep) && path !== site) {
      response.writeHead(403).end();
      return;
    }
    try {
      const file = path.endsWith(sep) || path === site ? join(path, 'index.html') : path;
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: join(out, 'chromium-profile'),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open(hash = '', viewport = { width: 1366, height: 900 }, installation = true) {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  const errors = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.errors = errors;
  await page.goto(`${origin}/index.html${hash}`);
  await page.waitForFunction(() => document.querySelector('#status').dataset.run !== '0', { timeout: 30000 });
  if (installation) {
    await page.evaluate((installation) => {
      for (const [name, value] of Object.entries(installation)) document.getElementById(name).value = value;
    }, INSTALLATION);
  }
  return page;
}

async function lastRun(page) {
  return page.$eval('#status', (status) => Number(status.dataset.run));
}

async function waitRun(page, previous) {
  await page.waitForFunction((previous) => Number(document.querySelector('#status').dataset.run) > previous, { timeout: 30000 }, previous);
}

async function results(page) {
  return page.evaluate(() => ({
    payloads: [...document.querySelectorAll('#payloads .payload')].map((payload) => ({
      route: payload.dataset.route,
      line: payload.dataset.line,
      body: payload.dataset.body,
    })),
    problems: [...document.querySelectorAll('#problems .problem')].map((problem) => ({
      kind: problem.dataset.kind,
      message: problem.querySelector('.message').textContent,
    })),
  }));
}

// Pastes `text` into the input, as a user would, and waits for the run.
async function paste(page, text) {
  const previous = await lastRun(page);
  await page.$eval('#input', (input, text) => {
    input.value = text;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
  await waitRun(page, previous);
  return results(page);
}

async function loadPlugin(page, file) {
  const previous = await lastRun(page);
  const input = await page.$('#plugin-file');
  await input.uploadFile(file);
  await waitRun(page, previous);
}

// The page's bodies equal the CLI's, byte for byte, in order: each body is
// the raw text inside the CLI's line, and the whole lines are equal too.
function assertSameAsCli(page, cli, what, { someExpected = true } = {}) {
  if (someExpected) assert.ok(cli.lines.length > 0, `${what}: the CLI prints payloads (${cli.stderr})`);
  assert.equal(page.payloads.length, cli.lines.length, `${what}: as many payloads as the CLI (${cli.stderr})`);
  page.payloads.forEach((payload, i) => {
    const prefix = `{"route":"${payload.route}","body":${payload.body},"redactions":`;
    assert.ok(cli.lines[i].startsWith(prefix), `${what}, payload ${i + 1}: body differs from the CLI's\n page: ${payload.body}\n  cli: ${cli.lines[i]}`);
    assert.equal(payload.line, cli.lines[i], `${what}, payload ${i + 1}`);
  });
}

// ------------------------------------------------------------------- tests

test('a refusal is reported as the CLI reports it (no cluster UID: no heartbeat)', async () => {
  const page = await open('', undefined, false);
  const file = join(root, 'samples/fleet.json');
  const shown = await paste(page, await readFile(file, 'utf8'));
  const cli = preview(file, undefined, {});
  assertSameAsCli(shown, cli, 'fleet.json without an installation', { someExpected: false });
  assert.equal(shown.problems[0]?.kind, 'failed', JSON.stringify(shown));
  assert.match(shown.problems[0].message, /^document 1, heartbeat: the plugin refused the event: /);
  const message = shown.problems[0].message.replace(/^document 1, heartbeat: /, '');
  assert.ok(cli.stderr.includes(`${file}, document 1: ${message}`), `the CLI says the same:\n${cli.stderr}`);
  await page.close();
});

test('each sample, in JSON and YAML, gives the bodies the CLI gives, byte for byte', async () => {
  const page = await open();
  const card = await page.$eval('#plugin-card', (card) => ({ ...card.dataset }));
  assert.equal(card.name, 'kamaji-telemetry-default');
  assert.ok(await page.$$eval('#fields tbody tr', (rows) => rows.length) > 0, 'the field table is shown');
  if (card.contract === '0.2.0') {
    assert.ok(await page.$$eval('#declared .inputs .tag.read', (tags) => tags.length) > 0, 'declared inputs are shown');
  }
  let total = 0;
  for (const file of await inputs()) {
    const shown = await paste(page, await readFile(file, 'utf8'));
    const cli = preview(file);
    assertSameAsCli(shown, cli, file);
    total += shown.payloads.length;
  }
  assert.ok(total >= 8);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('bad documents are reported with their number, line and column, as the CLI words them', async () => {
  const page = await open();
  const good = await readFile(join(root, 'samples/admission-create.json'), 'utf8');
  const text = `${good}\n{"kind": "TenantControlPlane",\n  "metadata": {"name": }\n}\n${good}`;
  const file = join(out, 'inputs', 'bad.json');
  await writeFile(file, text);
  const shown = await paste(page, text);
  const cli = preview(file);
  assertSameAsCli(shown, cli, 'bad.json');
  const errors = shown.problems.filter((problem) => problem.kind === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /^document 2 \(line \d+, column \d+\): invalid JSON/);
  assert.ok(cli.stderr.includes(`${file}: ${errors[0].message}`), `the CLI says the same:\n${cli.stderr}`);
  await page.close();
});

test('input from a file and from the #input= fragment', async () => {
  const sample = join(root, 'samples/fleet.json');
  const text = await readFile(sample, 'utf8');
  const cli = preview(sample);
  const fragment = Buffer.from(text).toString('base64url');
  const page = await open(`#input=${fragment}${INSTALLATION_HASH}`, undefined, false);
  assertSameAsCli(await results(page), cli, 'fragment');
  await paste(page, '');
  const previous = await lastRun(page);
  await (await page.$('#input-file')).uploadFile(join(root, 'samples/admission-update.json'));
  await waitRun(page, previous);
  assertSameAsCli(await results(page), preview(join(root, 'samples/admission-update.json')), 'file');
  await page.close();
});

test('the frozen 0.1.0 plugin, transpiled by jco in the page, gives the CLI bodies', async () => {
  const page = await open();
  await loadPlugin(page, fixture);
  assert.equal(await page.$eval('#plugin-card', (card) => card.dataset.contract), '0.1.0');
  assert.equal(await page.$eval('#plugin-error', (error) => error.hidden), true);
  for (const name of ['fleet.json', 'admission-create.json', 'admission-update.json', 'admission-delete.json']) {
    const file = join(root, 'samples', name);
    const shown = await paste(page, await readFile(file, 'utf8'));
    assertSameAsCli(shown, preview(file, fixture), `0.1.0 fixture, ${name}`);
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a hostile plugin: a leak is blocked, a trap and a spin are reported', async () => {
  const page = await open();
  const fleet = await readFile(join(root, 'samples/fleet.json'), 'utf8');
  const create = await readFile(join(root, 'samples/admission-create.json'), 'utf8');

  await loadPlugin(page, join(components, 'hostile-leak.wasm'));
  let shown = await paste(page, create);
  assert.equal(shown.payloads.length, 0);
  assert.equal(shown.problems[0]?.kind, 'blocked', JSON.stringify(shown));
  assert.match(shown.problems[0].message, /the payload carries the body contains the value of tenant-control-plane\.name|value of/);

  await loadPlugin(page, join(components, 'hostile-trap.wasm'));
  shown = await paste(page, fleet);
  assert.equal(shown.payloads.length, 0);
  assert.equal(shown.problems[0]?.kind, 'failed', JSON.stringify(shown));
  assert.match(shown.problems[0].message, /the plugin trapped/);
  await page.screenshot({ path: join(out, 'hostile-trap.png'), fullPage: true });

  await loadPlugin(page, join(components, 'hostile-spin.wasm'));
  shown = await paste(page, create);
  assert.equal(shown.problems[0]?.kind, 'failed', JSON.stringify(shown));
  assert.match(shown.problems[0].message, /deadline/);

  // A component that imports WASI is refused with its imports named.
  await loadPlugin(page, join(components, 'hostile-wasi.wasm'));
  assert.match(await page.$eval('#plugin-error', (error) => error.textContent), /imports wasi:/);
  await page.close();
});

test('screenshots at laptop and phone widths', async () => {
  const fleet = Buffer.from(await readFile(join(root, 'samples/fleet.json'))).toString('base64url');
  for (const [name, viewport] of [['laptop', { width: 1366, height: 900 }], ['phone', { width: 390, height: 844, isMobile: true, deviceScaleFactor: 2 }]]) {
    const page = await open(`#input=${fleet}${INSTALLATION_HASH}`, viewport, false);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name}: no horizontal scrolling (${overflow}px too wide)`);
    await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
    await page.screenshot({ path: join(out, `${name}-top.png`) });
    await page.close();
  }
});

test('nothing leaves the page: only its own files are requested', () => {
  assert.ok(requests.length > 0);
  const foreign = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith(`blob:${origin}/`));
  assert.deepEqual(foreign, [], 'requests to anything but the page');
  // And the server saw nothing but static files: no query strings, no posts of input.
  assert.deepEqual(served.filter((url) => url.includes('?')), []);
});
