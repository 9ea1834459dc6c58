// semper doctor on made-up Linux machines (fake /dev, /proc, /sys, /etc/group, udev rule
// directories): each problem is found and its fix printed; and against the emulator over
// TCP: HELLO, PING round trip, the card (absent, answering, dead), and a device held by another application.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnose, DoctorSystem, Finding, HELP, run, UDEV_RULE } from '../../host/src/cli/doctor';
import { acquire } from '../../host/src/device/session-lock';
import { PortInfo } from '../../host/src/device/discovery';
import { EmulatedCard } from '../../board/card/card';
import { personalise } from '../../board/card/personalise';
import { MemoryNv } from '../../board/card/store';
import { EmulatorServer } from '../../board/emulator/serve';
import { newDevice, serveTcp } from './emulator-rig';

/** The emulator with `card` in the slot, on tcp://127.0.0.1:<port>. */
async function serveWithCard(card: EmulatedCard): Promise<EmulatorServer> {
  const device = newDevice();
  device.insertCard(card);
  const server = new EmulatorServer(device, { tcpPort: 0 });
  await server.start();
  device.powerOn();
  return server;
}

interface Machine {
  ports?: PortInfo[];
  files?: Record<string, string>;
  stats?: Record<string, { mode: number; uid: number; gid: number }>;
  gids?: number[];
}

const BOARD: PortInfo = { path: '/dev/ttyACM0', vendorId: '0483', productId: '5740' };
const GROUPS = 'root:x:0:\ndialout:x:20:\nplugdev:x:46:erika\nerika:x:1000:\n';

/** A Linux machine made of a few files; everything else is absent. */
function machine(m: Machine): DoctorSystem {
  const files: Record<string, string> = { '/etc/group': GROUPS, ...m.files };
  return {
    platform: 'linux',
    listPorts: async () => m.ports ?? [BOARD],
    readFile: (p) => files[p] ?? null,
    readDir: (dir) => [...new Set(Object.keys({ ...files, ...m.stats }).filter((p) => p.startsWith(dir + '/')).map((p) => p.slice(dir.length + 1).split('/')[0]))],
    stat: (p) => m.stats?.[p] ?? null,
    user: () => ({ name: 'erika', uid: 1000, gids: m.gids ?? [1000, 46] }),
  };
}

const ACM0_DIALOUT = { '/dev/ttyACM0': { mode: 0o20660, uid: 0, gid: 20 } };
const RULE_FILE = { '/etc/udev/rules.d/45-semper-device.rules': UDEV_RULE + '\n' };
const find = (fs: Finding[], check: string): Finding[] => fs.filter((f) => f.check === check);
const text = (f: Finding | undefined): string => (f ? [f.message, ...(f.fix ?? [])].join('\n') : '');

test('no device plugged in: said so, with what to check', async () => {
  const fs = await diagnose({ system: machine({ ports: [{ path: '/dev/ttyS0' }] }), link: false });
  const [p] = find(fs, 'ports');
  expect(p.level).toBe('problem');
  expect(text(p)).toMatch(/no device with USB id 0483:5740 \(serial ports seen: \/dev\/ttyS0\)/);
  expect(text(p)).toContain('lsusb | grep -i 0483:5740');
  expect(text(p)).toContain('--device tcp://127.0.0.1:37137');
});

test('not in dialout: the usermod command and the re-login', async () => {
  const fs = await diagnose({ system: machine({ stats: ACM0_DIALOUT, files: RULE_FILE }), link: false });
  const [p] = find(fs, 'permissions');
  expect(p.level).toBe('problem');
  expect(p.message).toBe('erika cannot open /dev/ttyACM0: it belongs to group dialout with mode 660, and erika is not in dialout');
  expect(p.fix).toEqual(['sudo usermod -aG dialout $USER', 'then log out and log in again (group changes apply to new logins)']);
});

test('added to dialout but not logged in again: says to log in again', async () => {
  const system = machine({ stats: ACM0_DIALOUT, files: { ...RULE_FILE, '/etc/group': GROUPS.replace('dialout:x:20:', 'dialout:x:20:erika') } });
  const [p] = find(await diagnose({ system, link: false }), 'permissions');
  expect(p.level).toBe('problem');
  expect(text(p)).toMatch(/was added to dialout but this login session does not have it yet[\s\S]*log out and log in again/);
});

test('in the group: permissions fine; no udev rule: the exact rule line and how to load it', async () => {
  const fs = await diagnose({ system: machine({ stats: ACM0_DIALOUT, gids: [1000, 20] }), link: false });
  expect(find(fs, 'permissions')[0].level).toBe('ok');
  const [u] = find(fs, 'udev');
  expect(u.level).toBe('warn');
  expect(u.fix).toContain('SUBSYSTEMS=="usb", ATTRS{idVendor}=="0483", ATTRS{idProduct}=="5740", ENV{ID_MM_DEVICE_IGNORE}="1", MODE="0660", GROUP="dialout", TAG+="uaccess"');
  expect(u.fix).toContain('sudo udevadm control --reload-rules && sudo udevadm trigger');
  // Espruino's own rule file (misc/45-espruino.rules) counts too
  const espruino = { '/lib/udev/rules.d/45-espruino.rules': 'ATTRS{idProduct}=="5740", ATTRS{idVendor}=="0483", ENV{ID_MM_DEVICE_IGNORE}="1", MODE="0666", GROUP="plugdev"\n' };
  const ok = await diagnose({ system: machine({ stats: ACM0_DIALOUT, files: espruino, gids: [1000, 20] }), link: false });
  expect(find(ok, 'udev')[0]).toMatchObject({ level: 'ok', message: expect.stringContaining('/lib/udev/rules.d/45-espruino.rules') });
});

test('ModemManager running and probing the port: systemctl stop or ID_MM_DEVICE_IGNORE', async () => {
  const proc = {
    '/proc/1/comm': 'systemd\n',
    '/proc/812/comm': 'ModemManager\n',
    '/proc/812/cmdline': '/usr/sbin/ModemManager\0--filter-policy=strict\0',
    '/sys/class/tty/ttyACM0/device/bInterfaceProtocol': '01\n',
  };
  const fs = await diagnose({ system: machine({ stats: ACM0_DIALOUT, gids: [20], files: proc }), link: false });
  const [m] = find(fs, 'modemmanager');
  expect(m.level).toBe('problem');
  expect(m.message).toMatch(/ModemManager is running \(pid 812\).*\/dev\/ttyACM0 announces AT commands \(bInterfaceProtocol 01\)/);
  expect(text(m)).toContain('ENV{ID_MM_DEVICE_IGNORE}="1"');
  expect(text(m)).toContain('sudo systemctl stop ModemManager');
  // the DEFAULT policy probes every tty
  const legacy = { ...proc, '/proc/812/cmdline': '/usr/sbin/ModemManager\0--filter-policy=DEFAULT\0', '/sys/class/tty/ttyACM0/device/bInterfaceProtocol': '00\n' };
  const [d] = find(await diagnose({ system: machine({ stats: ACM0_DIALOUT, gids: [20], files: legacy }), link: false }), 'modemmanager');
  expect(d).toMatchObject({ level: 'problem', message: expect.stringContaining('filter policy DEFAULT probes every serial port') });
  // with the rule in place, ModemManager leaves the device alone
  const [ok] = find(await diagnose({ system: machine({ stats: ACM0_DIALOUT, gids: [20], files: { ...proc, ...RULE_FILE } }), link: false }), 'modemmanager');
  expect(ok).toMatchObject({ level: 'ok', message: expect.stringContaining('ID_MM_DEVICE_IGNORE') });
  // and without ModemManager there is nothing to say
  const [none] = find(await diagnose({ system: machine({ stats: ACM0_DIALOUT, gids: [20] }), link: false }), 'modemmanager');
  expect(none).toMatchObject({ level: 'ok', message: 'ModemManager is not running' });
});

describe('against the emulator', () => {
  let home: string;
  beforeAll(() => (home = mkdtempSync(join(tmpdir(), 'semper-doctor-'))));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  test('HELLO, PING round trip and the card flag; exit status 0', async () => {
    const server = await serveTcp();
    let out = '';
    const code = await run(['--device', `tcp://127.0.0.1:${server.port}`], { out: (s) => (out += s), system: machine({ ports: [] }), lock: { home } });
    await server.stop();
    expect(out).toMatch(new RegExp(`\\[ok\\] {3}link: tcp://127.0.0.1:${server.port}: HELLO — firmware \\S+, board PICO_R1_3, protocol 1, serial [0-9a-f]+`));
    expect(out).toMatch(/\[ok\] {3}link: PING round trip \(64 bytes\): [\d.]+ ms average/);
    expect(out).toMatch(/\[warn\] card: no card inserted\n {9}fix: insert the SEMPER card/);
    expect(out).not.toContain('permissions'); // no serial checks for a TCP device
    expect(code).toBe(0);
  });

  test('a card in the slot is tested: it answers a purse balance read (the amount is not printed)', async () => {
    const server = await serveWithCard(new EmulatedCard(personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 123456 }).nv));
    let out = '';
    const code = await run(['--device', `tcp://127.0.0.1:${server.port}`], { out: (s) => (out += s), system: machine({ ports: [] }), lock: { home } });
    await server.stop();
    expect(out).toMatch(/\[ok\] {3}card: a card is inserted and answers \(purse in EUR\)/);
    expect(out).not.toMatch(/1234|123456/);
    expect(code).toBe(0);
  });

  test('a card that is seen but does not answer (never personalised): a problem, with what to try', async () => {
    const server = await serveWithCard(new EmulatedCard(new MemoryNv()));
    let out = '';
    const code = await run(['--device', `tcp://127.0.0.1:${server.port}`], { out: (s) => (out += s), system: machine({ ports: [] }), lock: { home } });
    await server.stop();
    expect(out).toMatch(/\[FAIL\] card: a card is inserted but does not answer: .+\n {9}fix: take the card out and insert it again/);
    expect(code).toBe(1);
  });

  test('a device held by another application: who holds it, and doctor leaves it alone', async () => {
    const server = await serveTcp();
    const spec = `tcp://127.0.0.1:${server.port}`;
    const agent = acquire(spec, 'semper-agent', { home, releaseOnExit: false });
    let out = '';
    const code = await run(['--device', spec], { out: (s) => (out += s), system: machine({ ports: [] }), lock: { home } });
    agent.release();
    await server.stop();
    expect(code).toBe(1);
    expect(out).toMatch(new RegExp(`\\[FAIL\\] session: ${spec.replace(/\./g, '\\.')} is in use by semper-agent \\(pid ${process.pid}\\) since`));
  });

  test('nothing listening: the link check fails with the reason', async () => {
    let out = '';
    const code = await run(['--device', 'tcp://127.0.0.1:1', '--timeout', '500'], { out: (s) => (out += s), system: machine({ ports: [] }), lock: { home } });
    expect(code).toBe(1);
    expect(out).toContain('[FAIL] link: cannot connect to tcp://127.0.0.1:1');
  });
});

test('--help, --json and bad options', async () => {
  let out = '';
  let err = '';
  expect(await run(['--help'], { out: (s) => (out += s) })).toBe(0);
  expect(out).toBe(HELP + '\n');
  expect(HELP).toContain('usage: semper doctor');
  out = '';
  expect(await run(['--json', '--no-link'], { out: (s) => (out += s), system: machine({ stats: ACM0_DIALOUT, gids: [20], files: RULE_FILE }) })).toBe(0);
  expect(JSON.parse(out).map((f: Finding) => `${f.check}:${f.level}`)).toEqual(['ports:ok', 'permissions:ok', 'udev:ok', 'modemmanager:ok']);
  expect(await run(['--frobnicate'], { err: (s) => (err += s) })).toBe(2);
  expect(err).toContain('bad option --frobnicate');
  expect(await run(['--device', 'usb:7'], { err: (s) => (err += s) })).toBe(2);
  expect(err).toContain('unknown device "usb:7"');
});
