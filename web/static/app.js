// The preview page. It only carries values between two components that jco
// transpiled: kamaji-telemetry-core (the host's decoder, withholding, leak
// guard and payload line, in Rust) and the plugin. No rule of the host's is
// written again here.
import samples from './samples.js';
import { instantiate as instantiateCore } from './core/core.js';

const $ = (selector) => document.querySelector(selector);
const DEADLINE_MS = 2000; // the host's default --plugin-timeout
const PLUGIN_INTERFACE = 'kamaji:telemetry/plugin@';

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// ---------------------------------------------------------------- the core

const core = await (async () => {
  const modules = {};
  const getCoreModule = async (name) => {
    modules[name] ??= WebAssembly.compile(base64Bytes((await import(`./core/${name}.js`)).default));
    return modules[name];
  };
  const instance = await instantiateCore(getCoreModule, {});
  return instance.core ?? instance['kamaji:preview/core@0.1.0'];
})();

// ---------------------------------------------------------------- plugins

// The worker that runs one plugin call in a fresh instance. It is made from a
// blob: URL, so it keeps the page's Content-Security-Policy.
const WORKER = `
const refusal = (e) => typeof e === 'string' ? e : (e && typeof e === 'object' && 'payload' in e ? e.payload : undefined);
const plain = (value) => JSON.parse(JSON.stringify(value ?? null));
function exportsOf(instance) {
  for (const [name, value] of Object.entries(instance)) {
    if (value && (typeof value.handleBatch === 'function' || typeof value.handle === 'function')) return [name, value];
  }
  return [undefined, undefined];
}
onmessage = async ({ data }) => {
  let plugin;
  try {
    const module = await import(data.jsUrl);
    const instance = await module.instantiate((name) => data.modules[name], data.imports || {});
    plugin = exportsOf(instance);
    if (!plugin[1]) throw new Error('the component exports no kamaji:telemetry plugin (no handle or handleBatch); it exports ' + Object.keys(instance).join(', '));
  } catch (error) {
    postMessage({ kind: 'failed', message: 'the plugin could not be instantiated: ' + (error && error.message || error) });
    return;
  }
  const [name, api] = plugin;
  const contract = typeof api.handleBatch === 'function' ? '0.2.0' : '0.1.0';
  postMessage({ kind: 'started' });
  try {
    if (data.op === 'describe') {
      postMessage({ kind: 'done', contract, exportName: name, description: plain(api.describe()) });
    } else if (contract === '0.2.0') {
      postMessage({ kind: 'done', answers: plain(api.handleBatch(data.installation, data.events)) });
    } else {
      const answers = data.events.map((event) => {
        try {
          return { tag: 'ok', val: plain(api.handle(data.installation, event)) };
        } catch (error) {
          const reason = refusal(error);
          if (reason === undefined) throw error;
          return { tag: 'err', val: reason };
        }
      });
      postMessage({ kind: 'done', answers });
    }
  } catch (error) {
    postMessage({ kind: 'failed', message: 'the plugin trapped: ' + (error && error.message || String(error)) });
  }
};`;
const workerUrl = URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' }));

// One call in a fresh worker: the deadline starts when the plugin is called,
// and a plugin past it is stopped with its worker.
function call(plugin, message) {
  return new Promise((resolve) => {
    const worker = new Worker(workerUrl, { type: 'module' });
    let timer;
    const finish = (result) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(result);
    };
    worker.onmessage = ({ data }) => {
      if (data.kind === 'started') {
        timer = setTimeout(() => finish({ kind: 'failed', message: `the plugin ran past its deadline of ${DEADLINE_MS / 1000}s and was stopped` }), DEADLINE_MS);
      } else {
        finish(data);
      }
    };
    worker.onerror = (event) => finish({ kind: 'failed', message: `the plugin's worker failed: ${event.message || 'unknown error'}` });
    worker.postMessage({ ...message, jsUrl: plugin.jsUrl, modules: plugin.modules });
  });
}

async function loadPlugin(label, jsUrl, modules) {
  const plugin = { label, jsUrl, modules };
  const result = await call(plugin, { op: 'describe' });
  if (result.kind !== 'done') throw new Error(result.message);
  let session;
  try {
    session = core.Session.open(result.contract, JSON.stringify(result.description), JSON.stringify(installation()));
  } catch (error) {
    throw new Error(`its description cannot be read: ${error.payload ?? error.message}`);
  }
  Object.assign(plugin, { contract: result.contract, exportName: result.exportName, raw: result.description });
  plugin.description = JSON.parse(session.description());
  return plugin;
}

async function defaultPlugin() {
  const modules = {};
  const bytes = base64Bytes((await import('./plugin/plugin.core.wasm.js')).default);
  modules['plugin.core.wasm'] = await WebAssembly.compile(bytes);
  return loadPlugin('the default plugin, as the host embeds it', new URL('./plugin/plugin.js', location.href).href, modules);
}

let bindgen;
// Transpiles a dropped component with jco's own transpiler, in this page.
async function transpiledPlugin(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  bindgen ??= import('./jco/js-component-bindgen-component.js').then(async (module) => {
    await module.$init;
    return module;
  });
  const { generate } = await bindgen;
  let generated;
  try {
    generated = generate(bytes, {
      name: 'plugin',
      instantiation: { tag: 'async' },
      noTypescript: true,
      noNodejsCompat: true,
      noComponentErrorWrapping: false,
      base64Cutoff: 0,
      tlaCompat: false,
      validLiftingOptimization: false,
      tracing: false,
      noNamespacedExports: false,
      multiMemory: false,
      map: [],
    });
  } catch (error) {
    throw new Error(`jco cannot transpile it: ${error.payload ?? error.message}`);
  }
  const imports = generated.imports.filter((name) => !name.startsWith('kamaji:telemetry/'));
  if (imports.length) {
    throw new Error(`it imports ${imports.join(', ')}; a plugin imports nothing, and this page provides nothing (the host answers WASI imports with a closed profile)`);
  }
  const modules = {};
  let jsUrl;
  for (const [name, content] of generated.files) {
    if (name.endsWith('.wasm')) modules[name] = await WebAssembly.compile(content);
    else if (name.endsWith('.js')) jsUrl = URL.createObjectURL(new Blob([content], { type: 'text/javascript' }));
  }
  if (!jsUrl) throw new Error('jco generated no JavaScript');
  return loadPlugin(file.name, jsUrl, modules);
}

// ---------------------------------------------------------------- running

function installation() {
  return {
    clusterUid: $('#cluster-uid').value,
    kamajiVersion: $('#kamaji-version').value || 'dev',
    kubernetesVersion: $('#kubernetes-version').value || 'Unknown',
  };
}

let plugin;
let runs = 0;
let pending = Promise.resolve();

function setStatus(state, text) {
  const status = $('#status');
  status.dataset.state = state;
  status.textContent = text;
}

// Runs the input through the plugin; runs are queued, so each one sees the
// input and plugin as they were when it was asked for.
function run() {
  pending = pending.then(runNow, runNow);
  return pending;
}

async function runNow() {
  runs += 1;
  const run = runs;
  setStatus('running', 'Running…');
  try {
    await runInput(run);
  } catch (error) {
    $('#status').dataset.run = String(run);
    setStatus('error', `Failed: ${error.message}`);
  }
}

async function runInput(run) {
  const text = $('#input').value;
  const outcomes = [];
  const problems = [];
  if (text.trim() !== '' && plugin) {
    const session = core.Session.open(plugin.contract, JSON.stringify(plugin.raw), JSON.stringify(installation()));
    const steps = JSON.parse(session.decode(new TextEncoder().encode(text)));
    for (const step of steps) {
      if (step.step !== 'batch') {
        problems.push(step);
        continue;
      }
      const result = await call(plugin, { op: 'run', installation: step.installation, events: step.events });
      const answers = result.kind === 'done' ? result.answers : step.events.map(() => ({ tag: 'failed', val: result.message }));
      const checked = JSON.parse(session.guard(step.batch, JSON.stringify(answers)));
      if (checked.error) throw new Error(checked.error);
      for (const outcome of checked) {
        if (outcome.outcome === 'ready') outcomes.push(outcome);
        else if (outcome.outcome !== 'nothing') problems.push({ step: outcome.outcome, ...outcome });
      }
    }
  }
  render(outcomes, problems);
  const bad = problems.filter((problem) => problem.step !== 'skip').length;
  $('#status').dataset.run = String(run);
  setStatus('done', text.trim() === '' ? 'Ready: paste or drop an input' : `${outcomes.length} payload${outcomes.length === 1 ? '' : 's'}${bad ? `, ${bad} problem${bad === 1 ? '' : 's'}` : ''}`);
}

// ---------------------------------------------------------------- rendering

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((child) => child !== undefined && child !== null));
  return node;
}

// A dotted name as <code>, with a line break allowed after each dot (<wbr>).
function breakable(name) {
  const parts = name.split(/(?<=\.)/);
  return el('code', {}, ...parts.flatMap((part, i) => (i ? [el('wbr'), part] : [part])));
}

function pretty(body) {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function render(outcomes, problems) {
  const list = $('#payloads');
  list.replaceChildren(...outcomes.map((outcome) => {
    const copy = el('button', { type: 'button', textContent: 'Copy body' });
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(outcome.body);
        copy.textContent = 'Copied';
      } catch {
        copy.textContent = 'Copy failed';
      }
      setTimeout(() => { copy.textContent = 'Copy body'; }, 1500);
    });
    const redactions = outcome.redactions.length
      ? el('table', {},
        el('thead', {}, el('tr', {}, el('th', { textContent: 'field' }), el('th', { textContent: 'action' }), el('th', { textContent: 'reason' }))),
        el('tbody', {}, ...outcome.redactions.map((r) => el('tr', {},
          el('td', {}, breakable(r.field)),
          el('td', { class: `action-${r.action}`, textContent: r.action }),
          el('td', { textContent: r.reason })))))
      : el('p', { class: 'muted', textContent: 'Nothing redacted.' });
    return el('li', { class: 'payload', 'data-route': outcome.route, 'data-line': outcome.line, 'data-body': outcome.body },
      el('header', {},
        el('span', { class: 'route', textContent: `POST /${outcome.route}` }),
        el('span', { class: 'muted', textContent: `document ${outcome.document}, ${outcome.event}` }),
        copy),
      el('pre', { class: 'body', textContent: pretty(outcome.body) }),
      el('div', { class: 'redactions' }, el('h3', { textContent: 'Redaction report' }), redactions));
  }));
  $('#problems').replaceChildren(...problems.map((problem) => {
    const titles = { error: 'Bad document', skip: 'Skipped', blocked: 'Blocked by the leak guard', failed: 'Plugin failure' };
    const where = problem.step === 'blocked' || problem.step === 'failed'
      ? `document ${problem.document}, ${problem.event}: `
      : '';
    return el('li', { class: `problem ${problem.step}`, 'data-kind': problem.step },
      el('strong', { textContent: titles[problem.step] ?? problem.step }),
      el('span', { class: 'message', textContent: where + problem.message }));
  }));
  const shown = problems.filter((problem) => problem.step !== 'skip').length;
  $('#summary').textContent = outcomes.length || shown ? `(${outcomes.length} to send${shown ? `, ${shown} not` : ''})` : '';
}

function renderPlugin() {
  const d = plugin.description;
  const card = $('#plugin-card');
  card.dataset.contract = d.contract;
  card.dataset.name = d.name;
  card.replaceChildren(el('dl', {},
    el('dt', { textContent: 'name' }), el('dd', {}, el('code', { textContent: d.name })),
    el('dt', { textContent: 'version' }), el('dd', { textContent: d.version }),
    el('dt', { textContent: 'contract' }), el('dd', {}, el('code', { textContent: `kamaji:telemetry@${d.contract}` })),
    el('dt', { textContent: 'wire schema' }), el('dd', {}, el('code', { textContent: d.wireSchema })),
    el('dt', { textContent: 'from' }), el('dd', { textContent: plugin.label })));
  const declared = $('#declared');
  if (d.declares) {
    declared.replaceChildren(
      el('p', {}, el('strong', { textContent: 'Reads ' }),
        el('span', { class: 'muted', textContent: '(the page hands it only these input groups; the others reach it empty)' })),
      el('p', { class: 'inputs' }, ...d.inputs.map((input) => el('span', {
        class: `tag ${input.read ? 'read' : 'withheld'}`, textContent: input.name, title: input.covers, 'data-read': String(input.read),
      }))),
      el('p', {}, el('strong', { textContent: 'Sends to ' }), ...(d.routes.length ? d.routes.map((route) => el('span', { class: 'tag route-tag', textContent: `/${route}` })) : [el('span', { class: 'muted', textContent: 'no route' })])));
  } else {
    declared.replaceChildren(el('p', { class: 'muted', textContent: `Contract ${d.contract} has no declarations: the plugin is shown every input field and may send to any route.` }));
  }
  $('#fields tbody').replaceChildren(...d.fields.map((field) => el('tr', {},
    el('td', {}, breakable(field.name)),
    el('td', {}, el('code', { textContent: field.route })),
    el('td', {}, el('code', { textContent: field.example })),
    el('td', { textContent: field.meaning }))));
}

// ---------------------------------------------------------------- input

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return new TextDecoder().decode(base64Bytes(base64 + '='.repeat((4 - (base64.length % 4)) % 4)));
}

function inputFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const name of ['cluster-uid', 'kamaji-version', 'kubernetes-version']) {
    if (params.has(name)) $(`#${name}`).value = params.get(name);
  }
  const input = params.get('input');
  if (input === null) return false;
  try {
    $('#input').value = fromBase64Url(input);
  } catch {
    setStatus('error', 'The link\u2019s #input= is not base64url');
    return false;
  }
  return true;
}

function onDrop(zone, handle) {
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    const file = event.dataTransfer.files[0];
    if (file) handle(file);
  });
}

async function useInputFile(file) {
  $('#input').value = await file.text();
  run();
}

async function usePluginFile(file) {
  $('#plugin-error').hidden = true;
  setStatus('running', `Transpiling ${file.name}…`);
  try {
    plugin = await transpiledPlugin(file);
    renderPlugin();
    $('#default-plugin').hidden = false;
  } catch (error) {
    $('#plugin-error').textContent = `${file.name} cannot be used: ${error.message}`;
    $('#plugin-error').hidden = false;
    setStatus('error', 'Plugin not loaded');
    $('#status').dataset.run = String(++runs);
    return;
  }
  run();
}

let debounce;
$('#input').addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(run, 250);
});
for (const id of ['#cluster-uid', '#kamaji-version', '#kubernetes-version']) {
  $(id).addEventListener('change', run);
}
$('#input-file').addEventListener('change', (event) => event.target.files[0] && useInputFile(event.target.files[0]));
$('#plugin-file').addEventListener('change', (event) => event.target.files[0] && usePluginFile(event.target.files[0]));
onDrop($('#drop-input'), useInputFile);
onDrop($('#drop-plugin'), usePluginFile);
$('#default-plugin').addEventListener('click', async () => {
  plugin = await defaultPlugin();
  renderPlugin();
  $('#default-plugin').hidden = true;
  run();
});
$('#share').addEventListener('click', async () => {
  const params = new URLSearchParams();
  for (const name of ['cluster-uid', 'kamaji-version', 'kubernetes-version']) {
    const field = $(`#${name}`);
    if (field.value !== field.defaultValue) params.set(name, field.value);
  }
  const installation = params.size ? `&${params}` : '';
  const url = `${location.href.split('#')[0]}#input=${toBase64Url($('#input').value)}${installation}`;
  history.replaceState(null, '', url);
  try {
    await navigator.clipboard.writeText(url);
    $('#share').textContent = 'Link copied (the input stays in the link, after #)';
  } catch {
    $('#share').textContent = 'Link in the address bar (the input stays after #)';
  }
});
for (const name of Object.keys(samples)) {
  const button = el('button', { type: 'button', textContent: name });
  button.addEventListener('click', () => {
    $('#input').value = samples[name];
    run();
  });
  $('#samples').append(button);
}
window.addEventListener('hashchange', () => inputFromFragment() && run());

try {
  plugin = await defaultPlugin();
  renderPlugin();
} catch (error) {
  $('#plugin-error').textContent = `The default plugin cannot be loaded: ${error.message}`;
  $('#plugin-error').hidden = false;
}
inputFromFragment();
run();
