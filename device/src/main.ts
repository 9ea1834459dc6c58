// Firmware entry point: runs once at boot (the bundle is stored in flash and evaluated
// on power-up).

import { MsgType } from '../../protocol/src/messages';
import { HandlerTable, HostLink } from './link/host-link';
import { hello } from './handlers/hello';
import { ping } from './handlers/ping';
import { cancel } from './handlers/cancel';

function boot(): void {
  // The REPL must never listen on the host link: move it to the loopback device so the
  // USB line carries the link protocol only (SPEC.md §1, security).
  LoopbackA.setConsole(true);
  const handlers: HandlerTable = {};
  const link = new HostLink(handlers);
  handlers[MsgType.HELLO] = hello(handlers, () => link.cardPresent);
  handlers[MsgType.PING] = ping;
  handlers[MsgType.CANCEL] = cancel;
  link.start();
}

// Deferred, as Espruino wants console changes made after the upload has finished.
setTimeout(boot, 1);
