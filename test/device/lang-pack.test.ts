// How the build packs the display languages (tools/lang-keys.cjs): keys renamed to a letter or
// two in the source it bundles, texts byte-pair coded. The firmware side of both — t() on the
// packs the build writes — is exercised by every screen the device tests draw.

import fc from 'fast-check';
import { langKeyNames, pairCode, renameLangKeys, unpair } from '../../tools/lang-keys.cjs';

/** Text in the font's bytes: printable ASCII, the euro (0x80) and Latin-1 from 0xA0. */
const fontText = fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(0x80), fc.integer({ min: 0xa0, max: 0xff })), { maxLength: 80 }).map((b) => String.fromCharCode(...b));

test('pair coding gives every text back, and makes repetitive texts shorter', () => {
  fc.assert(
    fc.property(fc.array(fontText, { maxLength: 40 }), (texts) => {
      const { table, coded } = pairCode(texts);
      expect(coded.map((c) => unpair(c, table))).toEqual(texts);
      expect(coded.join('').length + table.length).toBeLessThanOrEqual(texts.join('').length + 2);
      for (const c of coded) expect(c).not.toContain('\n');
    }),
    { numRuns: 300, seed: 4 },
  );
  const { table, coded } = pairCode(['Enter your PIN', 'Enter the new PIN', 'Enter the PUK', 'Enter your PIN again']);
  expect(coded.join('').length + table.length).toBeLessThan(60);
});

test('pair coding refuses a text holding a code byte', () => {
  expect(() => pairCode(['a\x01b'])).toThrow(/byte 1/);
});

test('keys become short names; a literal prefix with numbered keys becomes a capital', () => {
  const src = "t('foot.idle'); t('err.' + code); const s = 'foot.idle'; t(\"kind.\" + k); x('not.a.key');";
  const names = langKeyNames(['foot.idle', 'err.5', 'err.8', 'err.other', 'kind.1'], [src]);
  expect(names.keys).toEqual({ 'err.5': 'A5', 'err.8': 'A8', 'kind.1': 'B1', 'foot.idle': 'a', 'err.other': 'b' });
  expect(renameLangKeys(src, names)).toBe("t('a'); t('A' + code); const s = 'a'; t('B' + k); x('not.a.key');");
  // escapes in other literals do not confuse it
  expect(renameLangKeys("t('x') + '\\n' + t('foot.idle')", names)).toBe("t('x') + '\\n' + t('a')");
});
