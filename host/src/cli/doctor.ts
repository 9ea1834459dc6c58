// `semper doctor`: why can't the host agent reach the device, and what to do about it.
// It lists serial ports and matches the board's USB id, checks on Linux what usually
// stands in the way of a USB CDC-ACM device (the port's group and the user's groups, a
// udev rule, ModemManager probing /dev/ttyACM*), then opens the device (or the emulator
// with --device tcp://…), runs HELLO and a PING round trip and tests the card. Every
// problem comes with the command that fixes it. All system access goes through
// DoctorSystem, so tests feed it a fake /proc, /dev and group list.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { MsgType } from '../../../protocol/src/messages';
import { DeviceLink } from '../link/device-link';
import { isBoardPort, listSerialPorts, PortInfo } from '../device/discovery';
import { acquire, DeviceInUseError, LockOptions } from '../device/session-lock';
import { EMULATOR_TCP, parseDeviceSpec, PICO_USB, SerialTransport, Transport, transportFor } from '../device/transports';

export const HELP = `semper doctor — find the device and fix what keeps the host agent from it

usage: semper doctor [options]

options:
  --device SPEC    check this device instead of searching: serial:/dev/ttyACM0,
                   ${EMULATOR_TCP} (the emulator), spawn:<command>, or auto (default)
  --timeout MS     time for the link handshake and each request (default 3000)
  --no-link        only the system checks: do not open the device
  --json           print the findings as JSON
  --help           this text

Checks: serial ports and the board's USB id (${PICO_USB.vendorId}:${PICO_USB.productId}); on Linux the
port's permissions against your groups (dialout/uucp), a udev rule for the board, and
ModemManager, which may grab /dev/ttyACM* for tens of seconds; then the link (SYNC,
HELLO, PING round trip) and the card (inserted, and answering a purse balance read —
no PIN, nothing shown on the device). Exit status 0 when nothing is
wrong, 1 when a problem was found, 2 on bad options.`;

/** The board's udev rule: access for the user at the seat and ModemManager kept off. */
export const UDEV_RULE = `SUBSYSTEMS=="usb", ATTRS{idVendor}=="${PICO_USB.vendorId}", ATTRS{idProduct}=="${PICO_USB.productId}", ENV{ID_MM_DEVICE_IGNORE}="1", MODE="0660", GROUP="dialout", TAG+="uaccess"`;
export const UDEV_FILE = '/etc/udev/rules.d/45-semper-device.rules';
const UDEV_INSTALL = [
  `echo '${UDEV_RULE}' | sudo tee ${UDEV_FILE}`,
  'sudo udevadm control --reload-rules && sudo udevadm trigger',
  'then unplug the device and plug it in again',
];
const UDEV_DIRS = ['/etc/udev/rules.d', '/lib/udev/rules.d', '/usr/lib/udev/rules.d'];

/** What doctor may look at. */
export interface DoctorSystem {
  platform: NodeJS.Platform;
  listPorts(): Promise<PortInfo[]>;
  /** A file's text, or null if it cannot be read. */
  readFile(path: string): string | null;
  /** A directory's entries, or [] if it cannot be read. */
  readDir(path: string): string[];
  stat(path: string): { mode: number; uid: number; gid: number } | null;
  /** The user running doctor and the groups this process has (not the ones in /etc/group). */
  user(): { name: string; uid: number; gids: number[] };
}

/** The real machine. */
export const realSystem: DoctorSystem = {
  platform: process.platform,
  listPorts: listSerialPorts,
  readFile: (p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return null;
    }
  },
  readDir: (p) => {
    try {
      return readdirSync(p);
    } catch {
      return [];
    }
  },
  stat: (p) => {
    try {
      const s = statSync(p);
      return { mode: s.mode, uid: s.uid, gid: s.gid };
    } catch {
      return null;
    }
  },
  user: () => {
    const u = userInfo();
    return { name: u.username, uid: u.uid, gids: process.getgroups ? process.getgroups() : [] };
  },
};

export type Level = 'ok' | 'info' | 'warn' | 'problem';

export interface Finding {
  level: Level;
  /** Short name of the check: ports, permissions, udev, modemmanager, link, card, session. */
  check: string;
  message: string;
  /** Commands or steps that fix it, in order. */
  fix?: string[];
}

export interface DoctorOptions {
  system?: DoctorSystem;
  device?: string;
  timeoutMs?: number;
  link?: boolean;
  lock?: LockOptions;
}

interface Group {
  name: string;
  gid: number;
  members: string[];
}

function parseGroups(text: string | null): Group[] {
  if (!text) return [];
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/** Runs every check; the findings in the order they were made. */
export async function diagnose(opts: DoctorOptions = {}): Promise<Finding[]> {
  const sys = opts.system ?? realSystem;
  const out: Finding[] = [];
  const spec = opts.device ? parseDeviceSpec(opts.device) : { kind: 'auto' as const };

  // 1. serial ports
  let ports: PortInfo[] = [];
  try {
    ports = await sys.listPorts();
  } catch (e) {
    out.push({ level: 'warn', check: 'ports', message: `cannot list serial ports: ${(e as Error).message}` });
  }
  const boards = ports.filter(isBoardPort);
  const id = `${PICO_USB.vendorId}:${PICO_USB.productId}`;
  if (boards.length > 0) {
    out.push({ level: 'ok', check: 'ports', message: `found the device (USB ${id}) at ${boards.map((p) => p.path).join(', ')}` });
    if (boards.length > 1 && spec.kind === 'auto') out.push({ level: 'warn', check: 'ports', message: `${boards.length} devices are plugged in`, fix: [`choose one: semper doctor --device serial:${boards[0].path}`] });
  } else if (spec.kind === 'auto') {
    const others = ports.length ? `serial ports seen: ${ports.map((p) => `${p.path}${p.vendorId ? ` (${p.vendorId}:${p.productId})` : ''}`).join(', ')}` : 'no serial ports at all';
    out.push({
      level: 'problem',
      check: 'ports',
      message: `no device with USB id ${id} (${others})`,
      fix: [
        'plug the device in with a data cable (some USB cables carry power only)',
        sys.platform === 'linux' ? `check that the kernel sees it: lsusb | grep -i ${PICO_USB.vendorId}:${PICO_USB.productId}; sudo dmesg | tail` : 'check that the OS lists a new serial port when you plug it in',
        `for the emulator: npm run emulator, then semper doctor --device ${EMULATOR_TCP}`,
      ],
    });
  }

  // 2. Linux: permissions, udev, ModemManager
  const serialPath = spec.kind === 'serial' ? spec.path : boards[0]?.path;
  if (sys.platform === 'linux' && spec.kind !== 'tcp' && spec.kind !== 'spawn') {
    const candidates = serialPath ? [serialPath] : sys.readDir('/dev').filter((n) => /^ttyACM\d+$/.test(n)).map((n) => `/dev/${n}`);
    const rules = udevRules(sys);
    out.push(...checkPermissions(sys, candidates, rules.length > 0));
    out.push(...checkUdev(rules));
    out.push(...checkModemManager(sys, candidates, rules));
  }

  // 3. the link
  if (opts.link === false) return out;
  if (spec.kind === 'auto' && !serialPath) return out;
  const transport = spec.kind === 'auto' ? new SerialTransport(serialPath!) : transportFor(spec);
  out.push(...(await checkLink(transport, opts.timeoutMs ?? 3000, opts.lock)));
  return out;
}

/** udev rule files that mention the board's vendor and product id, with their text. */
function udevRules(sys: DoctorSystem): { path: string; text: string }[] {
  const found: { path: string; text: string }[] = [];
  for (const dir of UDEV_DIRS) {
    for (const name of sys.readDir(dir)) {
      if (!name.endsWith('.rules')) continue;
      const text = sys.readFile(`${dir}/${name}`) ?? '';
      const lines = text.split('\n').filter((l) => !l.trim().startsWith('#') && new RegExp(`"${PICO_USB.vendorId}"`, 'i').test(l) && new RegExp(`"${PICO_USB.productId}"`, 'i').test(l));
      if (lines.length) found.push({ path: `${dir}/${name}`, text: lines.join('\n') });
    }
  }
  return found;
}

function checkPermissions(sys: DoctorSystem, paths: string[], haveRule: boolean): Finding[] {
  const out: Finding[] = [];
  const user = sys.user();
  const groups = parseGroups(sys.readFile('/etc/group'));
  for (const path of paths) {
    const st = sys.stat(path);
    if (!st) {
      out.push({ level: 'problem', check: 'permissions', message: `${path} does not exist (unplugged?)` });
      continue;
    }
    const mode = st.mode & 0o777;
    const group = groups.find((g) => g.gid === st.gid);
    const gname = group?.name ?? String(st.gid);
    const canRw = user.uid === 0 || (st.uid === user.uid && (mode & 0o600) === 0o600) || (user.gids.includes(st.gid) && (mode & 0o060) === 0o060) || (mode & 0o006) === 0o006;
    if (canRw) {
      out.push({ level: 'ok', check: 'permissions', message: `${path} (group ${gname}, mode ${mode.toString(8)}) is readable and writable by ${user.name}` });
      continue;
    }
    if (group && group.members.includes(user.name)) {
      out.push({
        level: 'problem',
        check: 'permissions',
        message: `${path} belongs to group ${gname}; ${user.name} was added to ${gname} but this login session does not have it yet`,
        fix: ['log out and log in again (or reboot); in one terminal, `newgrp ' + gname + '` works at once'],
      });
      continue;
    }
    const serialGroup = ['dialout', 'uucp'].includes(gname) ? gname : groups.some((g) => g.name === 'dialout') ? 'dialout' : groups.some((g) => g.name === 'uucp') ? 'uucp' : gname;
    const fix = [`sudo usermod -aG ${serialGroup} $USER`, 'then log out and log in again (group changes apply to new logins)'];
    if (!haveRule) fix.push(`or install the udev rule instead: ${UDEV_INSTALL[0]}`);
    out.push({ level: 'problem', check: 'permissions', message: `${user.name} cannot open ${path}: it belongs to group ${gname} with mode ${mode.toString(8)}, and ${user.name} is not in ${gname}`, fix });
  }
  return out;
}

function checkUdev(rules: { path: string; text: string }[]): Finding[] {
  if (rules.length === 0) {
    return [{ level: 'warn', check: 'udev', message: `no udev rule for the device (USB ${PICO_USB.vendorId}:${PICO_USB.productId}) in ${UDEV_DIRS.join(', ')}`, fix: [`put this line in ${UDEV_FILE}:`, UDEV_RULE, ...UDEV_INSTALL.slice(1)] }];
  }
  return [{ level: 'ok', check: 'udev', message: `udev rule for the device: ${rules.map((r) => r.path).join(', ')}` }];
}

/** ModemManager's pid and filter policy, if it runs (read from /proc). */
export function findModemManager(sys: DoctorSystem): { pid: number; policy: string | null } | null {
  for (const entry of sys.readDir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = sys.readFile(`/proc/${entry}/comm`);
    if (comm?.trim() !== 'ModemManager') continue;
    const cmdline = (sys.readFile(`/proc/${entry}/cmdline`) ?? '').split('\0');
    const flag = cmdline.find((a) => a.startsWith('--filter-policy='));
    return { pid: Number(entry), policy: flag ? flag.slice('--filter-policy='.length).toUpperCase() : null };
  }
  return null;
}

function checkModemManager(sys: DoctorSystem, ports: string[], rules: { path: string; text: string }[]): Finding[] {
  const mm = findModemManager(sys);
  if (!mm) return [{ level: 'ok', check: 'modemmanager', message: 'ModemManager is not running' }];
  if (rules.some((r) => /ID_MM_DEVICE_IGNORE/.test(r.text))) {
    return [{ level: 'ok', check: 'modemmanager', message: `ModemManager runs (pid ${mm.pid}) but a udev rule tells it to ignore the device (ID_MM_DEVICE_IGNORE)` }];
  }
  // STRICT (the default of current ModemManager, and of Debian and Ubuntu for years) probes a
  // CDC-ACM port only if its interface claims AT commands (bInterfaceProtocol 01), as the
  // STM32 CDC descriptors of many boards do; DEFAULT/LEGACY probe every tty
  const at = ports.map((p) => ({ p, proto: sys.readFile(`/sys/class/tty/${p.replace(/^\/dev\//, '')}/device/bInterfaceProtocol`)?.trim() ?? null }));
  const claimsAt = at.filter((x) => x.proto === '01').map((x) => x.p);
  const strict = mm.policy === null || mm.policy === 'STRICT' || mm.policy === 'PARANOID';
  const why = !strict
    ? `its filter policy ${mm.policy} probes every serial port`
    : claimsAt.length
      ? `${claimsAt.join(', ')} announces AT commands (bInterfaceProtocol 01), which its STRICT filter probes`
      : 'under its STRICT filter it probes CDC-ACM ports that announce AT commands, as the Espruino board does';
  return [
    {
      level: !strict || claimsAt.length || ports.length === 0 ? 'problem' : 'warn',
      check: 'modemmanager',
      message: `ModemManager is running (pid ${mm.pid}) and may grab /dev/ttyACM* for 10–20 s after plug-in: ${why}`,
      fix: [`tell it to leave the device alone with the udev rule: ${UDEV_INSTALL[0]}`, ...UDEV_INSTALL.slice(1), 'or, if this computer has no mobile-broadband modem: sudo systemctl stop ModemManager && sudo systemctl disable ModemManager'],
    },
  ];
}

// The card is tested, not only seen: PURSE_BALANCE goes through the card's secure channel
// with no user interaction and no PIN (SPEC §5.6), so a card that is dead, not personalised
// or badly seated shows here. The balance itself is not printed: doctor's output gets pasted
// into support requests.
async function checkCard(link: DeviceLink, capabilities: number[], timeoutMs: number): Promise<Finding> {
  if (!capabilities.includes(MsgType.PURSE_BALANCE)) return { level: 'ok', check: 'card', message: 'a card is inserted (this firmware cannot read its purse: the card was not tested)' };
  try {
    const r = await link.request(MsgType.PURSE_BALANCE, {}, { timeoutMs });
    return { level: 'ok', check: 'card', message: `a card is inserted and answers (purse in ${(r.balance as { currency: string }).currency})` };
  } catch (e) {
    return {
      level: 'problem',
      check: 'card',
      message: `a card is inserted but does not answer: ${(e as Error).message}`,
      fix: ['take the card out and insert it again, contacts first', 'if it still fails, check the card with semper card show (emulated cards) or try another card'],
    };
  }
}

async function checkLink(transport: Transport, timeoutMs: number, lock: LockOptions | undefined): Promise<Finding[]> {
  const out: Finding[] = [];
  let session;
  try {
    session = acquire(transport.spec, 'semper doctor', { ...lock, releaseOnExit: true });
  } catch (e) {
    if (e instanceof DeviceInUseError) {
      return [{ level: 'problem', check: 'session', message: e.message, fix: [`close ${e.holder.app} (pid ${e.holder.pid}), then run semper doctor again`] }];
    }
    throw e;
  }
  try {
    try {
      await transport.open();
    } catch (e) {
      return [{ level: 'problem', check: 'link', message: (e as Error).message }];
    }
    const link = new DeviceLink(transport);
    try {
      const hello = await link.connect({ timeoutMs });
      out.push({
        level: 'ok',
        check: 'link',
        message: `${transport.spec}: HELLO — firmware ${hello.firmware}, board ${hello.board}, protocol ${hello.version}, serial ${Buffer.from(hello.serial as Uint8Array).toString('hex')}, capabilities [${(hello.capabilities as number[]).join(', ')}]`,
      });
      const rtts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await link.request(2, { data: new Uint8Array(64).fill(0x55) }, { timeoutMs });
        rtts.push(performance.now() - t0);
      }
      const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
      out.push({ level: 'ok', check: 'link', message: `PING round trip (64 bytes): ${avg.toFixed(1)} ms average, ${Math.max(...rtts).toFixed(1)} ms worst of 3` });
      out.push(hello.card ? await checkCard(link, hello.capabilities as number[], timeoutMs) : { level: 'warn', check: 'card', message: 'no card inserted', fix: ['insert the SEMPER card into the device’s slot'] });
    } catch (e) {
      out.push({
        level: 'problem',
        check: 'link',
        message: `${transport.spec} opened, but the device does not speak the SEMPER link: ${(e as Error).message}`,
        fix: ['the board may run other firmware or its REPL: flash the SEMPER firmware (see device/README.md)', 'unplug and re-plug the device, then try again'],
      });
    } finally {
      link.close();
    }
  } finally {
    transport.close();
    session.release();
  }
  return out;
}

const MARK: Record<Level, string> = { ok: '[ok]  ', info: '[info]', warn: '[warn]', problem: '[FAIL]' };

/** The findings as text for a terminal. */
export function formatReport(findings: Finding[]): string {
  const lines = ['semper doctor'];
  for (const f of findings) {
    lines.push(`${MARK[f.level]} ${f.check}: ${f.message}`);
    (f.fix ?? []).forEach((x, i) => lines.push(`         ${i === 0 ? 'fix:' : '    '} ${x}`));
  }
  const problems = findings.filter((f) => f.level === 'problem').length;
  const warnings = findings.filter((f) => f.level === 'warn').length;
  lines.push(problems ? `${problems} problem(s), ${warnings} warning(s): see the fixes above` : warnings ? `no problems, ${warnings} warning(s)` : 'everything looks fine');
  return lines.join('\n') + '\n';
}

/** Entry point: parses argv (after `doctor`), prints the report, returns the exit status. */
export async function run(argv: string[], io: { out?: (s: string) => void; err?: (s: string) => void; system?: DoctorSystem; lock?: LockOptions } = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const opts: DoctorOptions = { system: io.system, lock: io.lock };
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      out(HELP + '\n');
      return 0;
    } else if (a === '--device' && argv[i + 1] !== undefined) opts.device = argv[++i];
    else if (a.startsWith('--device=')) opts.device = a.slice('--device='.length);
    else if (a === '--timeout' && /^\d+$/.test(argv[i + 1] ?? '')) opts.timeoutMs = Number(argv[++i]);
    else if (a === '--no-link') opts.link = false;
    else if (a === '--json') json = true;
    else {
      err(`semper doctor: bad option ${a} (see --help)\n`);
      return 2;
    }
  }
  let findings: Finding[];
  try {
    if (opts.device) parseDeviceSpec(opts.device);
    findings = await diagnose(opts);
  } catch (e) {
    err(`semper doctor: ${(e as Error).message}\n`);
    return 2;
  }
  out(json ? JSON.stringify(findings, null, 2) + '\n' : formatReport(findings));
  return findings.some((f) => f.level === 'problem') ? 1 : 0;
}
