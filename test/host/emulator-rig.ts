// The real firmware in the board emulator, served the ways a host reaches it, for the
// host's transport, connection and doctor suites (firmware from dist/: npm run build).

import { join } from 'node:path';
import { EmulatedDevice } from '../../board/emulator/device';
import { EmulatorServer } from '../../board/emulator/serve';

export const ROOT = join(__dirname, '..', '..');

export function newDevice(): EmulatedDevice {
  return new EmulatedDevice({ root: ROOT, onConsole: () => {} });
}

/** An emulator serving on tcp://127.0.0.1:`port` (0: any free port), powered on. */
export async function serveTcp(port = 0): Promise<EmulatorServer> {
  const device = newDevice();
  const server = new EmulatorServer(device, { tcpPort: port });
  await server.start();
  device.powerOn();
  return server;
}
