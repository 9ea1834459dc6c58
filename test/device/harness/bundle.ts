// Bundles a harness entry (TypeScript) with EXACTLY the esbuild options tools/build.mjs uses
// for dist/device/firmware.js — cjs in a hand-made IIFE, Storage and crypto external, the
// same `supported` list and the same defines (the language list, the resources
// version, …) — and runs it in the emulator's Sandbox with the emulator's Storage. The entry
// hands its API to the test through the injected __harness.

import { buildSync } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { Sandbox, SandboxOptions } from '../../../board/emulator/sandbox';
import { EspruinoStorage, storageModule, VirtualFlash } from '../../../board/emulator/storage';

const ROOT = join(__dirname, '..', '..', '..');

let options: Record<string, unknown> | null = null;
let resources: Record<string, string> = {};
/**
 * The `espruino` esbuild options of tools/build.mjs, taken from build.mjs itself (the
 * firmware's build is being worked on: a copy would drift): its text up to the first bundle
 * is run in a child process with the tsc steps stubbed out, and prints the options (and the
 * Storage files the firmware reads: the font and the language packs, their keys as written —
 * the firmware's build renames them with a plugin, which the synchronous API cannot run). Then
 * cjs in a hand-made IIFE, so require('Storage') stays a call.
 */
export function firmwareOptions(): Record<string, unknown> {
  if (options) return options;
  const text = readFileSync(join(ROOT, 'tools', 'build.mjs'), 'utf8');
  const cut = text.indexOf("const out = join(root, 'dist', 'device')");
  if (cut < 0 || !/const espruino = \{/.test(text)) throw new Error('tools/build.mjs changed shape: update test/device/harness/bundle.ts');
  const src =
    text
      .slice(0, cut)
      .replace(/^#!.*$/m, '')
      .replace('dirname(fileURLToPath(import.meta.url))', JSON.stringify(join(ROOT, 'tools')))
      // its own modules (tools/*.cjs), from wherever this runs
      .replace(/from '\.\/([\w.-]+)'/g, (_a, f: string) => 'from ' + JSON.stringify(join(ROOT, 'tools', f)))
      .replace(/\bexecFileSync\(/g, '((..._a) => undefined)(') + '\nprocess.stdout.write("\\n@@OPTIONS@@" + JSON.stringify({ espruino, resourceFiles: resourceFilesAsWritten() }));\n';
  const out = execFileSync(process.execPath, ['--input-type=module', '-', '--quiet'], { input: src, cwd: ROOT, encoding: 'utf8' });
  const json = out.slice(out.lastIndexOf('@@OPTIONS@@') + '@@OPTIONS@@'.length);
  const got = JSON.parse(json) as { espruino: Record<string, unknown>; resourceFiles: Record<string, string> };
  resources = got.resourceFiles;
  options = { ...got.espruino, format: 'cjs', banner: { js: '(function(){' }, footer: { js: '})();' } };
  return options;
}

const cache = new Map<string, string>();
/**
 * The bundle of a harness entry: TypeScript source text resolved from this folder (kept as
 * text so that the tests' type-check does not pull the firmware's Espruino-only sources in).
 */
export function bundleHarness(name: string, source: string): string {
  let text = cache.get(name);
  if (!text) {
    const r = buildSync({
      ...(firmwareOptions() as object),
      stdin: { contents: source, resolveDir: __dirname, loader: 'ts', sourcefile: name },
      write: false,
    } as Parameters<typeof buildSync>[0]);
    text = r.outputFiles![0].text;
    cache.set(name, text);
  }
  return text;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export type HarnessApi = Record<string, any>;

/** Runs the bundle of `file` in a fresh Sandbox; returns the sandbox and what the entry passed to __harness. */
export function runHarness(name: string, source: string, opts: SandboxOptions = {}): { sandbox: Sandbox; api: HarnessApi } {
  let api: HarnessApi | null = null;
  const uncaught: unknown[] = [];
  // the emulator's Storage on a fresh flash, as EmulatedDevice wires it, holding the font and
  // language packs as `npm run flash` writes them (resources.ts reads them)
  const modules: Record<string, unknown> = { ...opts.modules };
  let storage: EspruinoStorage | null = null;
  const sandbox = new Sandbox({
    onConsole: () => undefined,
    onUncaught: (e) => uncaught.push(e),
    ...opts,
    modules,
    globals: (sb) => {
      const realmError = vm.runInContext('(function (m) { return new Error(m); })', sb.context) as (m: string) => Error;
      storage = new EspruinoStorage(new VirtualFlash(), { makeError: (m) => realmError(m) });
      return {
      ...(opts.globals ? opts.globals(sb) : {}),
      __harness: (a: HarnessApi) => {
        api = a;
      },
      };
    },
  });
  firmwareOptions();
  for (const [file, data] of Object.entries(resources)) (storage as unknown as EspruinoStorage).write(file, data);
  if (!modules.Storage) modules.Storage = storageModule(storage as unknown as EspruinoStorage, (b) => sandbox.inContext(b));
  sandbox.run(bundleHarness(name, source), name);
  if (uncaught.length) throw uncaught[0];
  if (!api) throw new Error(`${name} did not call __harness`);
  return { sandbox, api };
}
