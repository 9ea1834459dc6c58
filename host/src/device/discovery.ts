// Finding the device: serial ports whose USB id is the board's (0483:5740), optionally
// confirmed by opening each and asking HELLO (time-boxed, the port closed afterwards), and
// the `--device` value resolved to one transport.

import { SerialPort } from 'serialport';
import { DeviceLink } from '../link/device-link';
import { parseDeviceSpec, PICO_USB, SerialTransport, Transport, transportFor } from './transports';

/** A serial port as the OS lists it (serialport's PortInfo, the fields we use). */
export interface PortInfo {
  path: string;
  vendorId?: string;
  productId?: string;
  manufacturer?: string;
  serialNumber?: string;
}

/** What a probe learnt: the HELLO answer, or why there was none. */
export type ProbeResult = { ok: true; hello: Record<string, unknown> } | { ok: false; error: string };

export interface FoundDevice {
  path: string;
  /** `serial:<path>`, for --device. */
  spec: string;
  /** The USB id matches the board's. */
  usbMatch: boolean;
  port: PortInfo;
  /** Present when probing was asked for. */
  probe?: ProbeResult;
}

export interface FindOptions {
  /** Open each candidate and send HELLO (default false: the USB id alone). */
  probe?: boolean;
  /** Also probe USB serial ports with another id (a board with its own USB descriptor); implies probe. */
  probeAll?: boolean;
  /** Time for one port's SYNC + HELLO, ms (default 1500). */
  probeTimeoutMs?: number;
  /** The OS's port list (default SerialPort.list). */
  list?: () => Promise<PortInfo[]>;
  /** A transport for a port (default SerialTransport). */
  open?: (path: string) => Transport;
}

const hex = (s: string | undefined): string => (s ?? '').toLowerCase().replace(/^0x/, '').padStart(4, '0');

/** True if the port's USB id is the board's. */
export function isBoardPort(p: PortInfo): boolean {
  return hex(p.vendorId) === PICO_USB.vendorId && hex(p.productId) === PICO_USB.productId;
}

/** Lists serial ports through serialport. */
export async function listSerialPorts(): Promise<PortInfo[]> {
  return (await SerialPort.list()).map((p) => ({ path: p.path, vendorId: p.vendorId, productId: p.productId, manufacturer: p.manufacturer, serialNumber: p.serialNumber }));
}

/** Opens `t`, runs SYNC + HELLO within `timeoutMs`, and closes it again whatever happens. */
export async function probeTransport(t: Transport, timeoutMs: number): Promise<ProbeResult> {
  try {
    await t.open();
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const link = new DeviceLink(t);
  try {
    const hello = await link.connect({ timeoutMs });
    return { ok: true, hello };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  } finally {
    link.close();
  }
}

/**
 * Serial ports that are (or, probed, answer as) the device. Without probing, only ports
 * with the board's USB id are returned; probing never writes to a port that is not a
 * candidate unless `probeAll` says so (other USB serial devices may not like our bytes).
 */
export async function findDevices(opts: FindOptions = {}): Promise<FoundDevice[]> {
  const ports = await (opts.list ?? listSerialPorts)();
  const probe = opts.probe || opts.probeAll;
  const out: FoundDevice[] = [];
  for (const port of ports) {
    const usbMatch = isBoardPort(port);
    const candidate = usbMatch || (opts.probeAll && port.vendorId !== undefined);
    if (!candidate) continue;
    const found: FoundDevice = { path: port.path, spec: `serial:${port.path}`, usbMatch, port };
    if (probe) {
      const t = (opts.open ?? ((p: string) => new SerialTransport(p)))(port.path);
      found.probe = await probeTransport(t, opts.probeTimeoutMs ?? 1500);
      if (!usbMatch && !found.probe.ok) continue;
    }
    out.push(found);
  }
  return out;
}

/**
 * The transport a `--device` value names. `auto` (or nothing) uses $SEMPER_DEVICE if set,
 * else the one serial port with the board's USB id; none or several is an error that
 * says what to do.
 */
export async function resolveDevice(spec: string | undefined, opts: Pick<FindOptions, 'list'> & { env?: NodeJS.ProcessEnv } = {}): Promise<Transport> {
  const env = opts.env ?? process.env;
  const given = spec ?? env.SEMPER_DEVICE ?? 'auto';
  const d = parseDeviceSpec(given === 'auto' && env.SEMPER_DEVICE ? env.SEMPER_DEVICE : given);
  if (d.kind !== 'auto') return transportFor(d);
  const ports = await (opts.list ?? listSerialPorts)();
  const found = ports.filter(isBoardPort);
  if (found.length === 1) return new SerialTransport(found[0].path);
  if (found.length === 0) {
    const seen = ports.length ? ` (serial ports seen: ${ports.map((p) => p.path + (p.vendorId ? ` ${hex(p.vendorId)}:${hex(p.productId)}` : '')).join(', ')})` : ' (no serial ports at all)';
    throw new Error(`no SEMPER device found: no serial port with USB id ${PICO_USB.vendorId}:${PICO_USB.productId}${seen}. Is it plugged in? Run \`semper doctor\`, or use --device tcp://127.0.0.1:37137 for the emulator`);
  }
  throw new Error(`several SEMPER devices found (${found.map((p) => p.path).join(', ')}): choose one with --device serial:PATH`);
}
