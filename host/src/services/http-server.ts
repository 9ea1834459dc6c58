// The one way the host's HTTP services (bank, third party, transfer endpoints) start
// listening: on 127.0.0.1 by default, port 0 for an ephemeral one, and a close() that also
// ends kept-alive connections, so a stopped service does not hold its port or the process.

import { Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface Listening {
  /** http://address:port (no path). */
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function listen(server: Server, opts: { port?: number; host?: string } = {}): Promise<Listening> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.address}:${a.port}`,
    server,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
