// Large constant text — the font's bitmap, the language packs — lives in Storage files. On
// Espruino a string read from Storage stays in flash (memory-mapped): one JsVar however long,
// where the same text kept from the bundle costs a JsVar per ~12 bytes of the Pico's RAM
// (measured: the two language packs alone held ~870 of its 5,100). Each file is written once
// from the bundle (the text is made only then) and named after the build's resource hash, so
// a new firmware replaces what it changed and removes the old files.

const VERSION = __RESOURCES_VERSION__;

/** The Storage file `kind`, written from `make()` if this firmware's version of it is missing. */
export function resource(kind: string, make: () => string): string {
  const S = require('Storage');
  const name = 'semper.' + kind + '.' + VERSION;
  let s = S.read(name);
  if (s === undefined) {
    const old = S.list(new RegExp('^semper\\.' + kind + '\\.'));
    for (let i = 0; i < old.length; i++) S.erase(old[i]);
    S.write(name, make());
    s = S.read(name);
  }
  return s === undefined ? make() : s;
}
