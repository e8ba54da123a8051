// After `vite build`: a gzipped copy of each asset (the service sends it to browsers that
// take gzip), and dist/console-build.json: the files the service may serve, and the sizes
// the budget is about (the console's JavaScript under 250 kB gzipped).
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants, gzipSync } from 'node:zlib';

const DIST = 'dist';
const BUDGET_GZIP_JS = 250 * 1000;

await rm(`${DIST}/.vite`, { recursive: true, force: true }); // Vite's manifest: not served
const assets = (await readdir(`${DIST}/assets`)).filter((name) => !name.endsWith('.gz')).sort();
const sizes = {};
for (const name of assets) {
  const content = await readFile(`${DIST}/assets/${name}`);
  const gzipped = gzipSync(content, { level: constants.Z_BEST_COMPRESSION });
  await writeFile(`${DIST}/assets/${name}.gz`, gzipped);
  sizes[name] = { bytes: content.length, gzip: gzipped.length };
}
const index = await readFile(`${DIST}/index.html`, 'utf8');
const total = (suffix, key) =>
  Object.entries(sizes).filter(([name]) => name.endsWith(suffix)).reduce((sum, [, size]) => sum + size[key], 0);
const lock = JSON.parse(await readFile('package-lock.json', 'utf8'));
const versions = Object.fromEntries(
  ['react', 'react-dom', 'urql', '@urql/core', '@urql/exchange-graphcache', 'graphql-ws', 'vite', '@graphql-codegen/client-preset'].map(
    (name) => [name, lock.packages[`node_modules/${name}`]?.version],
  ),
);
const build = {
  index: 'index.html',
  assets,
  scripts: [...index.matchAll(/<script[^>]*\bsrc="\/console\/assets\/([^"]+)"/g)].map((m) => m[1]),
  styles: [...index.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="\/console\/assets\/([^"]+)"/g)].map((m) => m[1]),
  sizes,
  js: { bytes: total('.js', 'bytes'), gzip: total('.js', 'gzip'), budgetGzip: BUDGET_GZIP_JS },
  css: { bytes: total('.css', 'bytes'), gzip: total('.css', 'gzip') },
  versions,
};
await writeFile(`${DIST}/console-build.json`, `${JSON.stringify(build, null, 2)}\n`);
const kB = (n) => `${(n / 1000).toFixed(1)} kB`;
console.log(
  `console: built ${assets.length} assets into ${DIST}/: JavaScript ${kB(build.js.bytes)} (${kB(build.js.gzip)} gzipped, ` +
    `budget ${kB(BUDGET_GZIP_JS)}), CSS ${kB(build.css.bytes)} (${kB(build.css.gzip)} gzipped)`,
);
if (build.js.gzip > BUDGET_GZIP_JS) {
  console.error(`console: the JavaScript is ${kB(build.js.gzip)} gzipped, over the budget of ${kB(BUDGET_GZIP_JS)}`);
  process.exit(1);
}
