// The host's device layer: transports, discovery, a reconnecting connection, the typed
// client and exclusive sessions — and openDevice(), which puts them together the way an
// application uses them.

import { DeviceClient } from './client';
import { ConnectionOptions, DeviceConnection } from './connection';
import { resolveDevice } from './discovery';
import { acquire, DeviceSession, LockOptions } from './session-lock';

export * from './transports';
export * from './discovery';
export * from './connection';
export * from './client';
export * from './session-lock';

export interface OpenDeviceOptions {
  /** `--device` value (default $SEMPER_DEVICE, else auto). */
  device?: string;
  /** This application's name, shown to others while it holds the device. */
  app: string;
  /** Take the exclusive session (default true). */
  lock?: boolean;
  lockOptions?: LockOptions;
  connection?: ConnectionOptions;
}

export interface OpenDevice {
  client: DeviceClient;
  connection: DeviceConnection;
  session: DeviceSession | null;
  /** Closes the connection and releases the session. */
  close(): void;
}

/**
 * Finds the device, takes its session (DeviceInUseError if another application holds it),
 * connects (SYNC + HELLO) and returns a client whose capabilities follow every HELLO.
 */
export async function openDevice(opts: OpenDeviceOptions): Promise<OpenDevice> {
  const transport = await resolveDevice(opts.device);
  const session = opts.lock === false ? null : acquire(transport.spec, opts.app, opts.lockOptions);
  const connection = new DeviceConnection(transport, opts.connection);
  const client = new DeviceClient(connection);
  connection.on('hello', (h: Record<string, unknown>) => client.learn(h));
  try {
    await connection.open();
  } catch (e) {
    connection.close();
    session?.release();
    throw e;
  }
  return {
    client,
    connection,
    session,
    close: () => {
      connection.close();
      session?.release();
    },
  };
}
