// tools/intern-strings.cjs: the firmware's most compared strings held once. Only compared
// strings become names (a stored one could be appended to in place on Espruino), the names
// collide with nothing in the bundle, and the program computes the same.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { internStrings } from '../../tools/intern-strings.cjs';

const program = 'function f(a,b){var s="number";if(a=="number"||b==="number")return 1;if(a!=="number"&&b!="x")return s;switch(a){case"number":return 2;case"x":return 3}return typeof a=="number"?"number":d+aa}';

describe('internStrings', () => {
  it('names the compared strings and leaves the stored ones literal', () => {
    const r = internStrings(program, { minGain: 0, max: 5 });
    // "x" (two uses of three bytes) would cost more than it saves
    expect(r.interned.map((s) => s.value)).toEqual(['number']);
    // the program's own names (f, a, b, s, d, aa) are taken: the names are the first free ones
    expect(r.interned.map((s) => s.name)).toEqual(['c']);
    expect(r.text).toContain('case c:');
    expect(r.text).toContain('var s="number"');
    expect(r.text).toContain('?"number":');
    expect(r.text.match(/"number"/g)).toHaveLength(2);
  });

  it('computes the same', () => {
    const r = internStrings(program, { minGain: 0, max: 5 });
    const before = new Function('d', 'aa', program + ';return f;')('D', 'AA');
    const after = new Function('d', 'aa', 'var ' + r.declarations + ';' + r.text + ';return f;')('D', 'AA');
    for (const [a, b] of [['number', 1], [1, 'number'], [2, 'x'], ['x', 'y'], ['number', 'number'], [5, 6]]) expect(after(a, b)).toEqual(before(a, b));
  });

  it('keeps only what saves at least minGain bytes, at most max strings', () => {
    expect(internStrings(program, { minGain: 1000, max: 5 }).interned).toEqual([]);
    expect(internStrings(program, { minGain: 0, max: 1 }).interned).toHaveLength(1);
  });

  it('is what the build did to the firmware: its first statement declares the interned strings', () => {
    const text = readFileSync(join(__dirname, '..', '..', 'dist', 'device', 'firmware.js'), 'latin1');
    const code = text.slice(text.indexOf('\n') + 1);
    expect(code).toMatch(/^var [a-z]{1,2}="number",/);
  });
});
