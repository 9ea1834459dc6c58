// Offers verified with VERIFY_OFFER (SPEC.md §5.7): offerDigest → merchant name, the most
// recent few, in RAM only (forgotten at reboot). A statement naming a digest found here
// shows its merchant as verified.

const KEEP = 4;

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export class OfferBook {
  private digests: Uint8Array[];
  private names: string[];

  constructor() {
    this.digests = [];
    this.names = [];
  }

  remember(digest: Uint8Array, merchant: string): void {
    for (let i = 0; i < this.digests.length; i++) {
      if (same(this.digests[i], digest)) {
        this.digests.splice(i, 1);
        this.names.splice(i, 1);
        break;
      }
    }
    this.digests.push(digest);
    this.names.push(merchant);
    if (this.digests.length > KEEP) {
      this.digests.shift();
      this.names.shift();
    }
  }

  /** The verified merchant (UTF-8) of an offer digest, or '' if not verified here. */
  merchantOf(digest: Uint8Array): string {
    for (let i = 0; i < this.digests.length; i++) if (same(this.digests[i], digest)) return this.names[i];
    return '';
  }
}
