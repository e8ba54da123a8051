// Builds GraphiQL into dist/ for the service to serve (certreissue/graphiql.py):
//
//   dist/graphiql-<hash>.js         the page's module (GraphiQL, React, Monaco, the explorer), ESM
//   dist/graphiql-<hash>.css        its styles (GraphiQL's fonts are data: URLs inside)
//   dist/codicon-<hash>.ttf         Monaco's icon font
//   dist/<label>.worker-<hash>.js   Monaco's web workers: editor, json, graphql (classic scripts)
//   dist/*.LEGAL.txt                the licences of what each file bundles
//   dist/*.gz                       a gzipped copy of each of those, for browsers that take gzip
//   dist/manifest.json              which file is which, and the pinned versions
//
// Every file name carries a hash of its content, so the service lets browsers keep them
// for a year. No code splitting: esbuild would leave the CSS of lazily loaded chunks
// (Monaco's) in files nothing loads. Nothing here reaches the network.

import * as esbuild from 'esbuild';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { constants, gzipSync } from 'node:zlib';

const OUT = 'dist';
const production = { 'process.env.NODE_ENV': '"production"' };

function outputs(result) {
  return Object.entries(result.metafile.outputs).map(([path, meta]) => ({ file: basename(path), ...meta }));
}

await rm(OUT, { recursive: true, force: true });

const workers = await esbuild.build({
  entryPoints: {
    editor: 'monaco-editor/esm/vs/editor/editor.worker.js',
    json: 'monaco-editor/esm/vs/language/json/json.worker.js',
    graphql: 'monaco-graphql/esm/graphql.worker.js',
  },
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2022',
  outdir: OUT,
  entryNames: '[name].worker-[hash]',
  define: production,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});
const workerFiles = {};
for (const output of outputs(workers)) {
  if (output.entryPoint) workerFiles[output.file.split('.worker-')[0]] = `./${output.file}`;
}

const page = await esbuild.build({
  entryPoints: { graphiql: 'src/graphiql.jsx' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outdir: OUT,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
  jsx: 'automatic',
  define: { ...production, MONACO_WORKERS: JSON.stringify(workerFiles) },
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const pageOutputs = outputs(page);
const module = pageOutputs.find((o) => o.entryPoint && o.file.endsWith('.js'));
const style = pageOutputs.find((o) => o.file.endsWith('.css'));
const lock = JSON.parse(await readFile('package-lock.json', 'utf8'));
const versions = Object.fromEntries(
  ['graphiql', '@graphiql/react', '@graphiql/plugin-explorer', 'react', 'react-dom', 'graphql', 'monaco-editor'].map(
    (name) => [name, lock.packages[`node_modules/${name}`]?.version],
  ),
);
// Every file written, the .LEGAL.txt ones too (the metafile does not list those): the
// service serves these names and no others.
const files = (await readdir(OUT)).sort();
for (const file of files.filter((name) => !name.endsWith('.LEGAL.txt'))) {
  const content = await readFile(`${OUT}/${file}`);
  await writeFile(`${OUT}/${file}.gz`, gzipSync(content, { level: constants.Z_BEST_COMPRESSION }));
}

const manifest = {
  module: module.file,
  style: style.file,
  workers: Object.fromEntries(Object.entries(workerFiles).map(([label, file]) => [label, file.slice(2)])),
  files,
  versions,
};
await writeFile(`${OUT}/manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);

const size = async (names) =>
  (await Promise.all(names.map(async (name) => (await readFile(`${OUT}/${name}`)).length))).reduce((a, b) => a + b, 0);
const plain = files.filter((name) => !name.endsWith('.LEGAL.txt'));
console.log(
  `graphiql: built ${files.length} files (${((await size(plain)) / 1e6).toFixed(1)} MB, ` +
    `${((await size(plain.map((name) => `${name}.gz`))) / 1e6).toFixed(1)} MB gzipped) into ${OUT}/: ` +
    `${manifest.module}, ${manifest.style}, workers ${Object.values(manifest.workers).join(', ')}`,
);
