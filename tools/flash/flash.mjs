#!/usr/bin/env node
// usage: npm run flash -- --port /dev/ttyACM0 [options]   (see --help and device/FLASHING.md)
//
// Writes the firmware bundle (dist/device/firmware.js) into a board's flash as the Storage file
// `.bootcde`, which Espruino evaluates from flash at every boot, together with the resource files
// the firmware reads at run time (font, language packs: the bundle's first line carries them,
// see tools/build.mjs), verifies every file by CRC32 and starts it. The bytes go over the wire with Espruino's official command-line tool, the npm package
// `espruino` (EspruinoTools): three runs of it, each an `-e` expression, the second with
// `--storage .bootcde:bootcde.js` (EspruinoTools turns that into `require("Storage").write(…)`
// calls of 384 bytes each). .bootcde is the checked bundle pretokenised (tools/pretokenise.cjs:
// reserved words, operators, strings and integers as Espruino's one-byte tokens, accepted only
// if Espruino's lexer reads the same tokens from it as from the text) — about a fifth smaller. Standalone like the rest of tools/: node built-ins, plus serialport
// only to list ports when --port is wrong.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pretokenise } from '../pretokenise.cjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const rel = (p) => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p) || '.');

/** The EspruinoTools version the procedure was written and checked against (npx fallback). */
export const ESPRUINO_CLI_VERSION = '0.1.67';
/** Storage file Espruino runs at boot, from flash. */
export const BOOT_FILE = '.bootcde';
/** How firmware.js's first line starts when it carries the resource files (tools/build.mjs). */
export const RESOURCE_MARK = '/*semper-resources*/';
/** EspruinoTools' chunk size for --storage uploads (core/utils.js CHUNKSIZE). */
const CHUNK = 384;
const DEFAULT_BOARD = JSON.parse(readFileSync(join(root, 'board', 'pinmap.json'), 'utf8')).board;
/**
 * Storage area of boards we know (Espruino's boards/<BOARD>.py, chip.saved_code: pages × page
 * size), each file taking a 32-byte header besides. The probe's getFree() is what counts; this
 * only warns in a dry run.
 */
export const STORAGE_BYTES = { PICO_R1_3: 3 * 16384 };

export const HELP = `semper flash — write the firmware into a board's flash, verify it, start it

usage: npm run flash -- --port PATH [options]      (builds first)
       semper flash --port PATH [options]

options:
  --port PATH      the board's serial port: /dev/ttyACM0 (Linux), /dev/tty.usbmodem… (macOS),
                   COM5 (Windows), or tcp://host:port; required unless --dry-run
  --board NAME     the board the firmware is built for (default ${DEFAULT_BOARD}, board/pinmap.json);
                   flashing stops if the board reports another
  --bundle FILE    the firmware bundle (default dist/device/firmware.js)
  --dry-run        print what would be sent — the espruino commands, the Storage file, its
                   size and CRC32 — and open no port; with --out FILE also write the exact
                   JavaScript the write step sends
  --no-start       verify, but leave the board in its REPL instead of starting the firmware
  --list           list serial ports and exit
  --timeout S      seconds each step may take (default 120)
  --verbose        show everything the espruino CLI prints
  --help           this text

Steps: check the bundle (npm run check:bundle's checker); ask the board for its name, Espruino
version and free flash; write the bundle to Storage as ${BOOT_FILE} (it runs from flash at boot)
and read back E.CRC32 of the stored file, which must equal the local CRC32; start it with load().

The espruino CLI is taken from $ESPRUINO_CLI, else node_modules (npm install --no-save
espruino@${ESPRUINO_CLI_VERSION}), else npx espruino@${ESPRUINO_CLI_VERSION} (downloaded once into the npm cache).

Once the firmware runs, USB carries only the SEMPER link: the console is locked. To flash again,
unplug the board, plug it in and press BTN1 straight away (not before plugging in: that is the
bootloader); Espruino then starts without the saved code. device/FLASHING.md has the details.

Exit status: 0 flashed (or dry run printed); 1 flashing failed (the message says at which step);
2 bad options or the bundle is missing or fails the check; 3 the espruino CLI cannot be run.`;

class Failure extends Error {
  constructor(message, code = 1) {
    super(message);
    this.code = code;
  }
}

/** CRC-32 (zlib, unsigned) — the same function as Espruino's E.CRC32. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    c ^= bytes[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const hex32 = (n) => `0x${n.toString(16).padStart(8, '0')}`;

// The expressions run on the board. Markers are built by concatenation so that the board's
// echo of the typed command never matches them.
export const PROBE_JS =
  'var s=require("Storage");print("SEMPER"+"-PROBE BOARD="+process.env.BOARD+" VERSION="+process.env.VERSION+" FREE="+s.getFree()+" OLD="+(s.read(".bootcde")||"").length)';
export const VERIFY_JS =
  'var s=require("Storage"),f=s.read(".bootcde");s.erase(".varimg");print("SEMPER"+"-VERIFY SIZE="+(f?f.length:-1)+" CRC="+(f?E.CRC32(f):-1))';
// load() restarts the interpreter and runs .bootcde, whose firmware then takes the console off
// USB: the CLI would wait for a prompt that never comes. Deferred by a second, the board
// answers (the timer's id), the CLI sees its prompt, finishes and closes the port first.
export const START_JS = 'setTimeout(load,1000)';

/** The bundle's code as .bootcde stores it: pretokenised (tools/pretokenise.cjs). */
function bootBytes(code) {
  try {
    return Buffer.from(pretokenise(code), 'latin1');
  } catch (e) {
    throw new Failure(`the bundle cannot be pretokenised for ${BOOT_FILE} (${e.message}): rebuild it with npm run build`, 2);
  }
}

/**
 * The Storage files of a bundle, .bootcde first: the bundle's code, pretokenised. A bundle
 * whose first line is the resource installer (RESOURCE_MARK, then
 * `(function(S,f){…})(require("Storage"),{"name":"data",…});`) is split: .bootcde is the rest
 * of the file, and each resource is a file of its own — so the bytes are in flash once. The
 * object is read as data (its strings use only the escapes \\, \" and \xNN), never run.
 */
export function storageFiles(bytes) {
  const text = Buffer.from(bytes).toString('latin1');
  if (!text.startsWith(RESOURCE_MARK)) return [{ name: BOOT_FILE, bytes: bootBytes(text) }];
  const nl = text.indexOf('\n');
  const line = text.slice(0, nl);
  const from = line.indexOf('require("Storage"),{');
  const to = line.lastIndexOf('});');
  if (nl < 0 || from < 0 || to < from) throw new Failure('the bundle\'s resource line is malformed: rebuild it with npm run build', 2);
  let files;
  try {
    files = JSON.parse(line.slice(from + 'require("Storage"),'.length, to + 1).replace(/\\(x([0-9a-fA-F]{2})|.)/g, (all, _e, hex) => (hex ? '\\u00' + hex : all)));
  } catch (e) {
    throw new Failure(`the bundle's resource line is malformed (${e.message}): rebuild it with npm run build`, 2);
  }
  return [{ name: BOOT_FILE, bytes: bootBytes(text.slice(nl + 1)) }, ...Object.entries(files).map(([name, d]) => ({ name, bytes: Buffer.from(d, 'latin1') }))];
}

/**
 * The check after writing several files: erases resource files of other builds, then prints
 * .bootcde's size and CRC as VERIFY_JS does and each resource's on a line of its own.
 */
export function verifyAllJs(names) {
  if (names.length === 1) return VERIFY_JS;
  const res = JSON.stringify(names.slice(1));
  return (
    'var s=require("Storage"),r=' + res + ';s.erase(".varimg");s.list(/^semper\\.(font|lang)/).forEach(function(n){if(r.indexOf(n)<0)s.erase(n)});' +
    '[".bootcde"].concat(r).forEach(function(n,i){var f=s.read(n);print("SEMPER"+"-VERIFY"+(i?"-FILE N="+i:"")+" SIZE="+(f?f.length:-1)+" CRC="+(f?E.CRC32(f):-1))})'
  );
}

/** What EspruinoTools sends for `--storage NAME:FILE` (utils.js getUploadFileCode). */
export function storageWriteCode(name, bytes) {
  const data = Buffer.from(bytes);
  const lines = [];
  for (let i = 0; i < data.length; i += CHUNK) {
    const part = data.subarray(i, i + CHUNK).toString('base64');
    lines.push(`require("Storage").write(${JSON.stringify(name)},atob(${JSON.stringify(part)}),${i}${i === 0 ? ',' + data.length : ''})`);
  }
  return lines;
}

/** How to run the espruino CLI: [command, ...leading args] and where it came from. */
function espruinoCli() {
  const env = process.env.ESPRUINO_CLI;
  if (env) return /\.(c|m)?js$/.test(env) ? { cmd: [process.execPath, resolve(env)], from: `$ESPRUINO_CLI (${env})` } : { cmd: [env], from: `$ESPRUINO_CLI (${env})` };
  try {
    const cli = createRequire(join(root, 'package.json')).resolve('espruino/bin/espruino-cli.js');
    return { cmd: [process.execPath, cli], from: `node_modules (${rel(cli)})` };
  } catch {
    return { cmd: [process.platform === 'win32' ? 'npx.cmd' : 'npx', '--yes', `espruino@${ESPRUINO_CLI_VERSION}`], from: `npx espruino@${ESPRUINO_CLI_VERSION} (not installed here; npx fetches it once from the npm registry)` };
  }
}

const shellQuote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * The three espruino runs. `files`: the resource files besides .bootcde, as local files in
 * `filesDir`, with .bootcde itself there as bootcde.js (the pretokenised code).
 */
export function plan(port, files = [], filesDir = '') {
  const p = ['-p', port, '--no-ble'];
  // EspruinoTools splits NAME:FILE at the first ':', so each file is named relative to the
  // folder the step runs in: a Windows path C:\… would be cut
  const storage = [BOOT_FILE + ':bootcde.js', ...files.map((f) => `${f.name}:${f.name}`)].flatMap((a) => ['--storage', a]);
  const what = files.length ? `write ${BOOT_FILE} and ${files.length} resource files in ${CHUNK}-byte chunks, erase other builds' resources, then read back every size and E.CRC32` : `write ${BOOT_FILE} in ${CHUNK}-byte chunks, then read back its size and E.CRC32`;
  return [
    { name: 'probe', what: 'ask the board for its name, Espruino version and free flash (the REPL must be on USB)', args: [...p, '-e', PROBE_JS] },
    { name: 'write', what, args: [...p, ...storage, '-e', verifyAllJs([BOOT_FILE, ...files.map((f) => f.name)])], cwd: filesDir },
    { name: 'start', what: 'load() a second later: restart and run the firmware from flash (the console leaves USB)', args: [...p, '-e', START_JS] },
  ];
}

/** Runs the espruino CLI; resolves to everything it printed. */
function runEspruino(cli, { args, cwd }, { timeoutMs, verbose }) {
  return new Promise((resolve, reject) => {
    const [cmd, ...lead] = cli.cmd;
    const child = spawn(cmd, [...lead, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: cwd ?? process.cwd(), shell: process.platform === 'win32' && cmd.endsWith('.cmd') });
    let text = '';
    const take = (d) => {
      text += d.toString('latin1');
      if (verbose) process.stderr.write(d.toString('latin1').replace(/^/gm, '  espruino| '));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => {
      child.kill();
      reject(new Failure(`the espruino CLI did not finish within ${timeoutMs / 1000} s${text ? `; it printed:\n${indent(text)}` : ''}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Failure(`cannot run ${cli.cmd.join(' ')}: ${e.message} (set ESPRUINO_CLI, or npm install --no-save espruino@${ESPRUINO_CLI_VERSION})`, 3));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, text });
    });
  });
}

const indent = (t) =>
  t
    .trimEnd()
    .split('\n')
    .slice(-20)
    .map((l) => `    ${l}`)
    .join('\n');

/** Serial ports, for the message when --port is wrong. */
async function listPorts() {
  try {
    const { SerialPort } = await import('serialport');
    const ports = await SerialPort.list();
    return ports.map((p) => `${p.path}${p.vendorId ? `  (USB ${p.vendorId}:${p.productId}${p.manufacturer ? `, ${p.manufacturer}` : ''})` : ''}${p.vendorId === '0483' && p.productId === '5740' ? '  <- an Espruino board' : ''}`);
  } catch (e) {
    return [`(cannot list serial ports: ${e.message})`];
  }
}

async function portsHint() {
  const ports = await listPorts();
  return `serial ports here:\n${ports.length ? ports.map((p) => `    ${p}`).join('\n') : '    none (is the board plugged in with a data cable?)'}\nsemper doctor (npm run semper -- doctor --no-link) checks permissions, udev and ModemManager`;
}

const LOCKED = `no answer from Espruino's console. Most likely the SEMPER firmware is running: it moves the
console off USB (the line carries only the link protocol). To flash again:
  1. unplug the board;
  2. plug it in and press BTN1 straight away (within about a second; holding it while plugging in
     starts the bootloader instead: the LEDs pulse — unplug and try again);
  3. Espruino starts without running the saved code, the console is on USB: run this command again.
Otherwise --port may name another device, or another program holds the port (a semper agent,
a terminal, the Web IDE): close it. See device/FLASHING.md.`;

function parseMarker(text, re) {
  const m = re.exec(text);
  if (!m) return null;
  return Object.fromEntries(Object.entries(m.groups).map(([k, v]) => [k, /^-?\d+$/.test(v) ? Number(v) : v]));
}

async function main(argv) {
  let v;
  try {
    ({ values: v } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        board: { type: 'string', default: DEFAULT_BOARD },
        bundle: { type: 'string', default: join(root, 'dist', 'device', 'firmware.js') },
        'dry-run': { type: 'boolean' },
        out: { type: 'string' },
        'no-start': { type: 'boolean' },
        list: { type: 'boolean' },
        timeout: { type: 'string', default: '120' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new Failure(`${e.message} (see --help)`, 2);
  }
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (v.list) {
    console.log((await listPorts()).join('\n') || 'no serial ports');
    return 0;
  }
  const timeoutMs = Number(v.timeout) * 1000;
  if (!(timeoutMs > 0)) throw new Failure('--timeout needs a number of seconds', 2);
  if (v.out && !v['dry-run']) throw new Failure('--out goes with --dry-run', 2);
  if (!v.port && !v['dry-run']) throw new Failure(`--port is required: the board's serial port, e.g. --port /dev/ttyACM0 (or --dry-run to see what would be sent)\n${await portsHint()}`, 2);

  // 1. the bundle: present and passing the Espruino bundle check
  const bundle = v.bundle;
  if (!existsSync(bundle)) throw new Failure(`${rel(bundle)} does not exist: run npm run build (npm run flash builds first)`, 2);
  const checker = join(root, 'dist', 'tools', 'bundle-check', 'cli.js');
  if (!existsSync(checker)) throw new Failure(`the bundle checker ${rel(checker)} is missing: run npm run build`, 2);
  const check = spawnSync(process.execPath, [checker, bundle], { encoding: 'utf8' });
  if (check.status !== 0) throw new Failure(`${rel(bundle)} fails the Espruino bundle check, refusing to flash it:\n${indent(check.stdout + check.stderr)}`, 2);
  const all = storageFiles(readFileSync(bundle));
  const bytes = all[0].bytes;
  const crc = crc32(bytes);
  const resources = all.slice(1).map((f) => ({ ...f, crc: crc32(f.bytes) }));
  const total = all.reduce((n, f) => n + f.bytes.length + 32, 0);
  const cli = espruinoCli();
  const port = v.port ?? '<PORT>';
  // EspruinoTools reads each --storage file from disk: the files go to a folder of their own
  const filesDir = !v['dry-run'] ? mkdtempSync(join(tmpdir(), 'semper-flash-')) : join(tmpdir(), 'semper-flash-XXXXXX');
  if (!v['dry-run']) {
    writeFileSync(join(filesDir, 'bootcde.js'), bytes);
    for (const f of resources) writeFileSync(join(filesDir, f.name), f.bytes);
    process.on('exit', () => rmSync(filesDir, { recursive: true, force: true }));
  }
  const steps = plan(port, resources, filesDir);
  if (v['no-start']) steps.pop();

  console.log(`${v['dry-run'] ? 'semper flash (dry run: no port is opened, nothing is sent)' : 'semper flash'}`);
  console.log(`  bundle        ${rel(bundle)}: ${readFileSync(bundle).length} bytes, CRC32 ${hex32(crc32(readFileSync(bundle)))} (${crc32(readFileSync(bundle))}), bundle check passed`);
  console.log(`  Storage file  ${BOOT_FILE}  ${bytes.length} bytes  CRC32 ${hex32(crc)}  (pretokenised; run from flash at every boot)`);
  for (const f of resources) console.log(`  Storage file  ${f.name}  ${f.bytes.length} bytes  CRC32 ${hex32(f.crc)}  (read by the firmware from flash)`);
  if (resources.length) console.log(`  in all        ${total} bytes of Storage with the files' 32-byte headers`);
  console.log(`  board         ${v.board}${v.port ? ` on ${v.port}` : ''}`);
  console.log(`  espruino CLI  ${cli.from}`);
  const area = STORAGE_BYTES[v.board];
  if (area !== undefined && total > area) {
    console.log(`  WARNING       ${v.board}'s Storage holds ${area} bytes in all (${area / 1024} KB, boards/${v.board}.py saved_code);\n                this firmware needs ${total} with its headers: it cannot fit, the probe will refuse it`);
  }

  if (v['dry-run']) {
    const writes = all.flatMap((f) => storageWriteCode(f.name, f.bytes));
    const verify = verifyAllJs(all.map((f) => f.name));
    steps.forEach((s, i) => {
      console.log(`\n${i + 1}. ${s.name}: ${s.what}`);
      const cmd = [...cli.cmd.map((c) => (c === process.execPath ? 'node' : c)), ...s.args].map(shellQuote).join(' ');
      console.log(`   ${s.cwd ? `(cd ${shellQuote(rel(s.cwd))} && ${cmd})` : cmd}`);
      if (s.name === 'write') {
        console.log(`   sends ${writes.length} Storage.write calls (${CHUNK} bytes each, base64), then the check:`);
        console.log(`     ${writes[0].slice(0, 64)}…",0,${bytes.length})`);
        if (writes.length > 1) console.log(`     … ${writes.length - 1} more, the last at offset ${Math.floor((all[all.length - 1].bytes.length - 1) / CHUNK) * CHUNK}${resources.length ? ` of ${all[all.length - 1].name}` : ''}`);
        console.log(`     ${verify}`);
        console.log(`   expects SIZE=${bytes.length} CRC=${crc}${resources.map((f, k) => `, file ${k + 1} SIZE=${f.bytes.length} CRC=${f.crc}`).join('')}`);
      }
    });
    if (v.out) {
      writeFileSync(v.out, [...writes, verify].join('\n') + '\n', 'latin1');
      console.log(`\nwrote the write step's JavaScript to ${v.out} (${writes.length + 1} lines)`);
    }
    return 0;
  }

  // a port named wrongly: say so before the espruino CLI times out on it
  if (!/^(tcp:\/\/|COM\d+$)/i.test(v.port)) {
    if (!existsSync(v.port)) throw new Failure(`${v.port} does not exist\n${await portsHint()}`, 1);
    try {
      accessSync(v.port, constants.R_OK | constants.W_OK);
    } catch (e) {
      if (e.code === 'EACCES') throw new Failure(`no permission to open ${v.port}: run semper doctor --no-link (npm run semper -- doctor --no-link) for the fix (dialout group or a udev rule)`, 1);
    }
  }

  const opts = { timeoutMs, verbose: v.verbose };
  // 2. probe
  console.log(`\n1/${steps.length} probe ${v.port} …`);
  const probe = await runEspruino(cli, steps[0], opts);
  const info = parseMarker(probe.text, /SEMPER-PROBE BOARD=(?<board>[A-Za-z0-9_]+) VERSION=(?<version>[\w.]+) FREE=(?<free>\d+) OLD=(?<old>\d+)/);
  if (!info) {
    if (/Unable to connect|Error: Opening|cannot open|No such file|Permission denied|Access denied|ECONNREFUSED/i.test(probe.text)) throw new Failure(`the espruino CLI could not open ${v.port}:\n${indent(probe.text)}\n${await portsHint()}`);
    throw new Failure(`${LOCKED}${v.verbose ? '' : '\n(--verbose shows what the espruino CLI printed)'}`);
  }
  console.log(`  ${info.board}, Espruino ${info.version}, ${info.free} bytes of flash free${info.old ? `, an old ${BOOT_FILE} of ${info.old} bytes` : ''}`);
  if (info.board !== v.board) throw new Failure(`the board on ${v.port} is ${info.board}, the firmware is built for ${v.board}: refusing (--board ${info.board} if you really mean it)`);
  if (!/^2v29/.test(String(info.version))) console.log(`  warning: the firmware is made for Espruino 2v29, the board runs ${info.version} (device/FLASHING.md: updating Espruino)`);
  const needed = resources.length ? total : bytes.length;
  if (needed > info.free + info.old) throw new Failure(`not enough flash: ${needed} bytes needed, ${info.free + info.old} available (require("Storage").eraseAll() in the REPL frees everything)`);

  // 3. write and verify
  console.log(`2/${steps.length} write ${BOOT_FILE} (${bytes.length} bytes, ${Math.ceil(bytes.length / CHUNK)} chunks)${resources.length ? ` and ${resources.length} resource files` : ''} and verify …`);
  const write = await runEspruino(cli, steps[1], opts);
  const got = parseMarker(write.text, /SEMPER-VERIFY SIZE=(?<size>-?\d+) CRC=(?<crc>-?\d+)/);
  if (!got) throw new Failure(`no answer to the check after writing:\n${indent(write.text)}\nThe board may have reset during the write: run this command again.`);
  if (got.size !== bytes.length || got.crc >>> 0 !== crc) {
    throw new Failure(`verification FAILED: the board stored ${got.size} bytes with CRC32 ${got.crc < 0 ? 'none' : hex32(got.crc >>> 0)}, expected ${bytes.length} bytes with ${hex32(crc)}. The firmware was NOT started; run this command again (require("Storage").eraseAll() in the REPL first if it keeps failing).`);
  }
  console.log(`  stored ${got.size} bytes, CRC32 ${hex32(crc)}: matches`);
  for (let k = 0; k < resources.length; k++) {
    const f = resources[k];
    const r = parseMarker(write.text, new RegExp(`SEMPER-VERIFY-FILE N=${k + 1} SIZE=(?<size>-?\\d+) CRC=(?<crc>-?\\d+)`));
    if (!r || r.size !== f.bytes.length || r.crc >>> 0 !== f.crc) {
      throw new Failure(`verification FAILED for ${f.name}: the board stored ${r ? r.size : 'no'} bytes${r && r.crc >= 0 ? ` with CRC32 ${hex32(r.crc >>> 0)}` : ''}, expected ${f.bytes.length} bytes with ${hex32(f.crc)}. The firmware was NOT started; run this command again.`);
    }
  }
  if (resources.length) console.log(`  ${resources.length} resource files stored: every CRC32 matches`);

  // 4. start
  if (v['no-start']) {
    console.log(`done: ${BOOT_FILE} verified; the board stays in its REPL until it is reset or re-plugged, then the firmware runs`);
    return 0;
  }
  console.log(`3/${steps.length} start the firmware (load()) …`);
  try {
    await runEspruino(cli, steps[2], { ...opts, timeoutMs: Math.min(timeoutMs, 30_000) });
  } catch (e) {
    if (!(e instanceof Failure) || e.code !== 1) throw e;
    console.log(`  the espruino CLI did not confirm the restart (${e.message.split(';')[0]}).\n  The firmware is stored and verified: unplug the board and plug it in again to start it.`);
    return 0;
  }
  console.log(`done: the firmware runs from flash and at every boot. USB now carries only the SEMPER link;\ncheck it with: npm run semper -- doctor --device ${v.port.startsWith('tcp://') ? v.port : `serial:${v.port}`}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (!(e instanceof Failure)) throw e;
    process.stderr.write(`semper flash: ${e.message}\n`);
    process.exitCode = e.code;
  },
);
