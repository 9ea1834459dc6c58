// Project Wycheproof ECDSA P-256 / SHA-256 vectors against our ES256 verification
// (verifyDigest, through which every COSE_Sign1 check goes). The vectors are not committed
// (test/vectors/cose/README.md): set WYCHEPROOF_DIR to a folder holding
// ecdsa_secp256r1_sha256_p1363_test.json and/or ecdsa_secp256r1_sha256_test.json.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { verifyDigest } from '../../shared/src/cose';

interface WycheproofTest {
  tcId: number;
  comment: string;
  msg: string;
  sig: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface WycheproofFile {
  algorithm: string;
  testGroups: { publicKey?: { uncompressed: string }; key?: { uncompressed: string }; sha: string; tests: WycheproofTest[] }[];
}

const dir = process.env.WYCHEPROOF_DIR;
const files = [
  { name: 'ecdsa_secp256r1_sha256_p1363_test.json', der: false },
  { name: 'ecdsa_secp256r1_sha256_test.json', der: true },
].filter((f) => dir && existsSync(join(dir, f.name)));

const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/** DER → r ‖ s; null when the DER is not a strict encoding of two scalars in range. */
function derToCompact(der: string): Uint8Array | null {
  if (der.length % 2) return null;
  try {
    const sig = p256.Signature.fromDER(h(der));
    // the parser must have read exactly the canonical DER: re-encode and compare
    return sig.toDERHex() === der.toLowerCase() ? sig.toCompactRawBytes() : null;
  } catch (_e) {
    return null;
  }
}

(files.length ? describe : describe.skip)('Wycheproof ECDSA P-256 SHA-256 (WYCHEPROOF_DIR)', () => {
  test.each(files.length ? files : [{ name: 'none', der: false }])('$name', ({ name, der }) => {
    const file = JSON.parse(readFileSync(join(dir!, name), 'utf8')) as WycheproofFile;
    let valid = 0;
    let invalid = 0;
    const acceptable: number[] = [];
    const wrong: string[] = [];
    for (const g of file.testGroups) {
      expect(g.sha).toBe('SHA-256');
      const pub = h((g.publicKey ?? g.key)!.uncompressed);
      for (const t of g.tests) {
        const sig = der ? derToCompact(t.sig) : t.sig.length === 128 ? h(t.sig) : null;
        const ok = sig !== null && verifyDigest(pub, sha256(h(t.msg)), sig);
        if (t.result === 'acceptable') acceptable.push(t.tcId);
        else if (ok !== (t.result === 'valid')) wrong.push(`tcId ${t.tcId} (${t.comment}): expected ${t.result}`);
        else if (ok) valid++;
        else invalid++;
      }
    }
    expect(wrong).toEqual([]);
    expect(valid).toBeGreaterThan(0);
    expect(invalid).toBeGreaterThan(0);
    console.log(`${name}: ${valid} valid and ${invalid} invalid vectors agree; ${acceptable.length} acceptable not asserted`);
  });
});

if (!files.length) {
  test.skip('Wycheproof vectors: set WYCHEPROOF_DIR to run them (see test/vectors/cose/README.md)', () => undefined);
}
