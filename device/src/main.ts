// Firmware entry point: runs once at boot (the bundle is stored in flash and evaluated on
// power-up). Wires the board's parts (display, keypad, card slot) to TINGUIN and the link.

import { App } from './app';
import { CardApplet } from './card/applet';
import { CardReader } from './card/reader';
import { Display } from './hal/display';
import { Keypad } from './hal/keypad';
import { Tinguin } from './ui/tinguin';

function boot(): void {
  // The REPL must never listen on the host link: move it to the loopback device so the
  // USB line carries the link protocol only (SPEC.md §1, security).
  LoopbackA.setConsole(true);
  const display = new Display();
  const ui = new Tinguin(display);
  const reader = new CardReader();
  const applet = new CardApplet(reader);
  const app = new App(ui, applet);
  new Keypad((k) => ui.key(k));
  reader.onPresence((present) => app.cardChanged(present));
  reader.start();
  app.start();
  if (reader.present()) app.cardChanged(true);
}

// Deferred, as Espruino wants console changes made after the upload has finished.
setTimeout(boot, 1);
