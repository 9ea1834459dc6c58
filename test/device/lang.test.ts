// The display languages (device/lang/*.json): the same keys everywhere, every string drawable
// in the device font without ambiguous spaces, short texts fit their line, placeholders kept.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { textWidth, toDisplay, useFontWidths } from '../../device/src/ui/text';
import { FONT_WIDTHS } from '../../device/src/ui/font';

// the widths the firmware reads from its Storage file semper.fontw (tools/build.mjs writes it from these)
useFontWidths(FONT_WIDTHS);

interface Lang {
  code: string;
  name: string;
  strings: Record<string, string>;
}
const DIR = join(__dirname, '..', '..', 'device', 'lang');
const langs: Lang[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Lang);
const en = langs.find((l) => l.code === 'en') as Lang;
const shown = (s: string): string | null => toDisplay(Buffer.from(s, 'utf8').toString('latin1'), false);

test('English and German, each named in its own language', () => {
  expect(langs.map((l) => l.code).sort()).toEqual(['de', 'en']);
  expect(langs.map((l) => l.name).sort()).toEqual(['Deutsch', 'English']);
});

test.each(langs.map((l) => [l.code, l] as const))('%s: exactly the keys of en.json', (_c, l) => {
  expect(Object.keys(l.strings).sort()).toEqual(Object.keys(en.strings).sort());
});

test.each(langs.map((l) => [l.code, l] as const))('%s: every string draws in the device font, placeholders as in English', (_c, l) => {
  const bad = Object.entries(l.strings).filter(([, v]) => shown(v) === null);
  expect(bad).toEqual([]);
  for (const [k, v] of Object.entries(l.strings)) expect([k, v.match(/\{\d\}/g) ?? []]).toEqual([k, en.strings[k].match(/\{\d\}/g) ?? []]);
});

test.each(langs.map((l) => [l.code, l] as const))('%s: footers, status and step labels fit their line', (_c, l) => {
  const tooWide: string[] = [];
  for (const [k, v] of Object.entries(l.strings)) {
    const px = textWidth(shown(v) ?? '');
    const room = k.startsWith('foot.') ? 126 : k.startsWith('step.') ? 126 - textWidth('4/4 ') : k.startsWith('menu.') ? 124 - textWidth('6 ') : Infinity;
    if (px > room) tooWide.push(`${k}: ${px} > ${room} px`);
  }
  // the status bar at idle: link and card together
  const idle = textWidth(shown(`${l.strings['status.noPc']} ${l.strings['status.noCard']}`) ?? '');
  if (idle > 126) tooWide.push(`status: ${idle} px`);
  expect(tooWide).toEqual([]);
});
