// Subresource Integrity for the relay's built pages (run by scripts/build-web.sh): in each page,
// the entry module script gets an `integrity` (sha384), every module it imports, directly or not,
// gets a <link rel="modulepreload" integrity> (Chromium then refuses a changed module, since a module
// graph reuses what its preload fetched), and the engine's .wasm a <link rel="preload" as="fetch"
// integrity> that the page passes to init() (which fetches it with that integrity).
//
// Usage: node scripts/sri.mjs OUT_DIR PAGE.html...   (pages are rewritten in place)
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const WASM = 'glimpse-web/dist/glimpse_wasm_bg.wasm';

function integrity(file) {
  return `sha384-${createHash('sha384').update(readFileSync(file)).digest('base64')}`;
}

/** Relative static imports and re-exports of an ES module (`import ... from './x.js'`, `import './x.js'`, `export ... from`). */
function staticImports(source) {
  const out = [];
  const pattern = /(?:^|[;\n}])\s*(?:import|export)\s*(?:[\w*${}\s,]*?\s*from\s*)?['"](\.{1,2}\/[^'"]+)['"]/g;
  for (let m = pattern.exec(source); m; m = pattern.exec(source)) out.push(m[1]);
  return out;
}

/** Every module `entry` (a path under `root`) loads, itself last; paths relative to `root`. */
function moduleGraph(root, entry) {
  const seen = new Set();
  const order = [];
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    const file = join(root, path);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      visit(relative(root, normalize(join(dirname(file), spec))));
    }
    order.push(path);
  };
  visit(entry);
  return order;
}

const [root, ...pages] = process.argv.slice(2);
if (!root || pages.length === 0) {
  console.error('usage: node scripts/sri.mjs OUT_DIR PAGE.html...');
  process.exit(2);
}
for (const page of pages) {
  const file = join(root, page);
  let html = readFileSync(file, 'utf8');
  const entry = /<script type="module" src="([^"]+)"><\/script>/.exec(html);
  if (!entry) throw new Error(`${page}: no <script type="module" src="..."> entry`);
  const modules = moduleGraph(root, entry[1]);
  const links = modules.slice(0, -1).map((m) => `<link rel="modulepreload" href="${m}" integrity="${integrity(join(root, m))}">`);
  if (modules.some((m) => m.startsWith('glimpse-web/'))) {
    links.push(`<link rel="preload" href="${WASM}" as="fetch" type="application/wasm" crossorigin integrity="${integrity(join(root, WASM))}">`);
  }
  const script = `<script type="module" src="${entry[1]}" integrity="${integrity(join(root, entry[1]))}"></script>`;
  html = html.replace(entry[0], `${links.join('\n')}\n${script}`);
  writeFileSync(file, html);
  console.log(`sri: ${page}: ${modules.length} modules${links.length > modules.length - 1 ? ' and the engine' : ''} pinned`);
}
