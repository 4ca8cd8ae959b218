// Assembles the static preview page into target/web/ (`make web` runs it,
// after jco has transpiled the two components into target/web-build/).
//
// The page must not fetch anything (its CSP has `connect-src 'none'`), so
// every WebAssembly module it runs is shipped as a JavaScript module holding
// its bytes in base64 (`<name>.wasm.js`), loaded with `import()` like the
// page's other scripts. What is copied:
//
//   web/static/*                  the page, its script and its style
//   <build>/core/*                kamaji-telemetry-core as a component (jco, instantiation mode)
//   <build>/plugin/*              the default plugin, transpiled from the file the host embeds
//   jco's js-component-bindgen    jco's own transpiler, to transpile a dropped plugin in the page
//   preview2-shim (browser)       the WASI shims that transpiler runs on
//   samples/*                     the repository's sample inputs, as a module
//
// Usage: node web/build.mjs <build dir> <jco node_modules dir> <out dir>
import { readFile, writeFile, mkdir, readdir, rm, copyFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const [build, nodeModules, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node web/build.mjs <build dir> <jco node_modules dir> <out dir>');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function wasmModule(from, to) {
  const bytes = await readFile(from);
  await writeFile(to, `export default ${JSON.stringify(bytes.toString('base64'))};\n`);
}

// Copies a transpiled component's JavaScript, with each core module beside it as a module.
async function component(from, to) {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) {
    if (name.endsWith('.wasm')) await wasmModule(join(from, name), join(to, `${name}.js`));
    else if (name.endsWith('.js')) await copyFile(join(from, name), join(to, name));
  }
}

function replaceOnce(text, from, to, what) {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`${what}: expected exactly one ${JSON.stringify(from)}; has jco changed?`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

for (const name of await readdir(join(root, 'web/static'))) {
  await copyFile(join(root, 'web/static', name), join(out, name));
}
await component(join(build, 'core'), join(out, 'core'));
await component(join(build, 'plugin'), join(out, 'plugin'));

// jco's transpiler, as jco-transpile ships it for the browser, with two
// changes: its WASI imports point at the copied shims instead of bare
// specifiers, and its core modules load from the base64 modules beside it
// instead of with fetch().
const transpile = join(nodeModules, '@bytecodealliance/jco-transpile');
const shims = join(transpile, 'node_modules/@bytecodealliance/preview2-shim/dist/browser');
await mkdir(join(out, 'jco/shim'), { recursive: true });
for (const name of await readdir(shims)) {
  if (name.endsWith('.js')) await copyFile(join(shims, name), join(out, 'jco/shim', name));
}
let bindgen = await readFile(join(transpile, 'vendor/js-component-bindgen-component.js'), 'utf8');
bindgen = bindgen.replace(
  /from '@bytecodealliance\/preview2-shim\/([a-z]+)'/g,
  (_, name) => `from './shim/${name}.js'`,
);
if (bindgen.includes('@bytecodealliance/')) throw new Error('jco bindgen: an import was not rewritten');
bindgen = replaceOnce(
  bindgen,
  'return fetch(url).then(WebAssembly.compileStreaming);',
  "return import(`${url.href}.js`).then((module) => base64Compile(module.default));",
  'jco bindgen',
);
await writeFile(join(out, 'jco/js-component-bindgen-component.js'), bindgen);
for (const name of await readdir(join(transpile, 'vendor'))) {
  if (name.startsWith('js-component-bindgen-component') && name.endsWith('.wasm')) {
    await wasmModule(join(transpile, 'vendor', name), join(out, 'jco', `${name}.js`));
  }
}

// The samples, so that the page can show them without fetching anything.
const samples = {};
for (const name of (await readdir(join(root, 'samples'))).sort()) {
  samples[name] = await readFile(join(root, 'samples', name), 'utf8');
}
await writeFile(join(out, 'samples.js'), `export default ${JSON.stringify(samples, null, 1)};\n`);

console.log(`web: ${out} (${(await readdir(out)).length} entries)`);
