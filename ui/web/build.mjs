// Bundles src/main.js (and its CSS) with esbuild into content-hashed files under
// `assets/`, then writes index.html pointing at them.
// Usage: node build.mjs [--outdir DIR]   (default: dist)

import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--outdir');
const outdir = path.resolve(i > 0 ? process.argv[i + 1] : path.join(here, 'dist'));

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  entryPoints: [path.join(here, 'src/main.js')],
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: false,
  target: ['es2020'],
  outdir: path.join(outdir, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.relative(outdir, path.resolve(p)).split(path.sep).join('/'));
const js = outputs.find((p) => p.endsWith('.js'));
const css = outputs.find((p) => p.endsWith('.css'));
if (!js || !css) throw new Error(`esbuild produced no JS or CSS bundle: ${outputs.join(', ')}`);
const html = (await readFile(path.join(here, 'index.html'), 'utf8')).replace('{{JS}}', js).replace('{{CSS}}', css);
await writeFile(path.join(outdir, 'index.html'), html);
console.log(`built ${[js, css, 'index.html'].join(', ')} into ${outdir}`);
