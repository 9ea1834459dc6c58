// Large constant text — the font's bitmap, the language packs — lives in Storage files. On
// Espruino a string read from Storage stays in flash (memory-mapped): one JsVar however long,
// where the same text kept in the bundle costs a JsVar per ~12 bytes of the Pico's RAM
// (measured: the two language packs alone held ~870 of its 5,100). The files are not in the
// firmware's code either: `npm run flash` writes them next to .bootcde, and the first line of
// firmware.js writes them where the whole file is booted (emulator, tests) — tools/build.mjs.
// Each is named after the build's resource hash, so files of different builds never mix.

const VERSION = __RESOURCES_VERSION__;

/** The Storage file `kind` of this build ('' if it is missing: the flash was not completed). */
export function resource(kind: string): string {
  const s = require('Storage').read('semper.' + kind + '.' + VERSION);
  return s === undefined ? '' : s;
}
