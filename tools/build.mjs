#!/usr/bin/env node
// usage: npm run build [-- --quiet]
// npm run build: compiles the host side (tsc → dist/), type-checks the firmware against
// the Espruino profile (device/tsconfig.json) and bundles it with esbuild into ONE file,
// dist/device/firmware.js — the exact text that is uploaded to a board. Also bundles the
// protocol stack alone (dist/device/protocol.js) with the same settings, so tests and the
// fuzzer exercise the device-side codec exactly as it ships.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// the board's pin map, one place for firmware and emulator; comments ("//…" keys) stay behind
const pinmap = JSON.parse(readFileSync(join(root, 'board', 'pinmap.json'), 'utf8'), (k, v) => (k.startsWith('//') ? undefined : v));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (process.argv.includes('--help')) {
  console.log('usage: npm run build [-- --quiet]\n\nCompiles the host side into dist/, type-checks the firmware against the Espruino profile\nand writes dist/device/firmware.js (the file uploaded to a board) and dist/device/protocol.js.');
  process.exit(0);
}
const quiet = process.argv.includes('--quiet');
const log = (s) => quiet || console.log(s);

function step(name, fn) {
  const t = Date.now();
  try {
    fn();
  } catch (e) {
    console.error(`build: ${name} failed`);
    if (e.stdout) process.stderr.write(e.stdout);
    if (e.stderr) process.stderr.write(e.stderr);
    process.exit(1);
  }
  log(`build: ${name} (${Date.now() - t} ms)`);
}

step('host, board, shared, protocol, tools (tsc)', () => execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'pipe' }));
step('tests type-check (tsc)', () => execFileSync(process.execPath, [tsc, '-p', join(root, 'test', 'tsconfig.json')], { stdio: 'pipe' }));
step('firmware type-check against the Espruino profile (tsc)', () => execFileSync(process.execPath, [tsc, '-p', join(root, 'device', 'tsconfig.json')], { stdio: 'pipe' }));

/** esbuild settings shared by every bundle that runs on Espruino. */
const espruino = {
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'neutral',
  target: 'es2015',
  charset: 'ascii', // Espruino strings are bytes: keep the source 7-bit
  legalComments: 'none',
  logLevel: 'error',
  // what esbuild may not emit, on top of the es2015 target (PROFILE.md)
  supported: {
    destructuring: false,
    'default-argument': false,
    'rest-argument': false,
    generator: false,
    'async-await': false,
    'async-generator': false,
    'exponent-operator': false,
    'optional-chain': false,
    'class-field': false,
    'class-static-field': false,
    'class-private-field': false,
    'class-static-blocks': false,
    bigint: false,
    'regexp-lookbehind-assertions': false,
  },
  define: { __FIRMWARE_VERSION__: JSON.stringify(pkg.version), __PINMAP__: JSON.stringify(pinmap) },
  // TypeScript field declarations are types only: plain assignments, no defineProperty helpers
  tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
};

const out = join(root, 'dist', 'device');
mkdirSync(out, { recursive: true });
await build({ ...espruino, entryPoints: [join(root, 'device', 'src', 'main.ts')], outfile: join(out, 'firmware.js') });
await build({ ...espruino, entryPoints: [join(root, 'protocol', 'src', 'bundle.ts')], outfile: join(out, 'protocol.js') });
log(`build: dist/device/firmware.js ${statSync(join(out, 'firmware.js')).size} bytes, dist/device/protocol.js ${statSync(join(out, 'protocol.js')).size} bytes`);
