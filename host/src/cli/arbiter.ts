// `semper arbiter verify <pack>`: the dispute handling of the seed (§1.2): an evidence pack
// exported from a party's archive (`semper archive export --pack FILE --deal <exchange id>`)
// is checked offline — the archive chain, every signature, every item against its agreed
// description — and the arbiter states who is owed what, and why.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TrustStore } from '../../../shared/src/certificate';
import { verifyEvidencePack } from '../services/archive-export';
import { judge } from '../exchange/arbiter';
import { standardModules } from '../ttp/modules';

export const HELP = `semper arbiter — judge a dispute over a fair exchange from its evidence

usage:
  semper arbiter verify PACK [--trusted-key HEX]... [--trust-root FILE]... [--json]

PACK is an evidence pack exported by a party: semper archive export --pack PACK --deal ID
(ID: the exchange id, as \`semper archive list\` shows it).

options:
  --trusted-key HEX  the archive's checkpoint key (130 hex digits, 04…): the pack must then be
                     covered by a checkpoint it signed; without it the chain is checked but
                     not anchored (the report says so)
  --trust-root FILE  a CA root certificate (COSE, binary) that card certificates chain to;
                     repeatable (to check purse payments in the evidence)
  --json             the verdict as JSON
  --help             this text

exit status: 0 a verdict was reached; 1 the evidence does not verify (tampered, forged,
incomplete); 2 bad options.`;

export async function run(argv: string[], io: { out?: (s: string) => void; err?: (s: string) => void } = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { 'trusted-key': { type: 'string', multiple: true }, 'trust-root': { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    err(`semper arbiter: ${(e as Error).message}\n`);
    return 2;
  }
  const v = parsed.values;
  if (v.help || parsed.positionals.length === 0) {
    (v.help ? out : err)(`${HELP}\n`);
    return v.help ? 0 : 2;
  }
  const [cmd, file, ...rest] = parsed.positionals;
  if (cmd !== 'verify' || !file || rest.length) {
    err('semper arbiter: usage: semper arbiter verify PACK (see --help)\n');
    return 2;
  }
  const keys = (v['trusted-key'] ?? []).map((k) => {
    if (!/^04[0-9a-fA-F]{128}$/.test(k)) return undefined;
    return new Uint8Array(Buffer.from(k, 'hex'));
  });
  if (keys.some((k) => !k)) {
    err('semper arbiter: --trusted-key takes the public key as 130 hex digits starting with 04\n');
    return 2;
  }
  try {
    const trust = new TrustStore();
    for (const f of v['trust-root'] ?? []) trust.addRoot(new Uint8Array(readFileSync(f)));
    const pack = verifyEvidencePack(new Uint8Array(readFileSync(file)), keys as Uint8Array[], { requireAnchor: keys.length > 0 });
    const verdict = judge(pack.records, standardModules({ trust }));
    if (v.json) {
      out(`${JSON.stringify({ ...verdict, anchored: pack.anchored }, null, 2)}\n`);
      return 0;
    }
    out(
      [
        `exchange ${verdict.exchangeId} (${verdict.protocol}): ${verdict.originator} (originator) and ${verdict.responder} (responder), third party ${verdict.ttp}`,
        `evidence: ${pack.records.length} records, archive chain intact${pack.anchored ? ', anchored by a trusted checkpoint' : ' (not anchored: no --trusted-key given)'}`,
        ...verdict.findings.map((f) => `  - ${f}`),
        `outcome: ${verdict.outcome}`,
        ...verdict.owed.map((o) => `owed: ${o}`),
      ].join('\n') + '\n',
    );
    return 0;
  } catch (e) {
    err(`semper arbiter: the evidence does not hold: ${(e as { code?: string }).code ?? (e as Error).name}: ${(e as Error).message}\n`);
    return 1;
  }
}
