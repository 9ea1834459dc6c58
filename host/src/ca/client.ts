// A typed HTTP client of the CA/RA (http.ts). Nothing it returns is taken on the server's word:
// the root must be a self-signed CA certificate — the one pinned by the caller (`root`), or else
// the first one fetched (trust on first use) — and the revocation list and every certificate
// must verify under that root's key and say what was asked.

import { Certificate, CertificateError, RevocationList, TrustStore, verifyCertificateSignature, verifyRevocationList } from '../../../shared/src/certificate';
import { CaError, CaErrorCode, recoverKey, registrationStatement } from './authority';
import { CA_PATHS, CA_STATUS, RegistrationRequest } from './http';

export interface CaClientOptions {
  /** The root certificate this CA must answer with (bytes as issued); first fetched one if absent. */
  root?: Uint8Array;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export class CaClient {
  private pinned?: Certificate;

  constructor(
    readonly url: string,
    private readonly o: CaClientOptions = {},
  ) {}

  private async call(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.url), init);
    } catch (e) {
      throw new CaError('UNREACHABLE', `the CA at ${this.url} did not answer: ${(e as Error).message}`);
    }
    if (res.ok) return res;
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    const code = body.error?.code && body.error.code in CA_STATUS ? (body.error.code as CaErrorCode) : 'INTERNAL';
    throw new CaError(code, `the CA refused: ${body.error?.message ?? `HTTP ${res.status}`}`);
  }

  private async bytes(path: string, init?: RequestInit): Promise<Uint8Array> {
    return new Uint8Array(await (await this.call(path, init)).arrayBuffer());
  }

  /** GET /v1/root: the CA's self-signed root, checked (and the pinned one, if pinned). BAD_ANSWER otherwise. */
  async root(): Promise<Certificate> {
    if (this.pinned) return this.pinned;
    const bytes = await this.bytes(CA_PATHS.root);
    let root: Certificate;
    try {
      root = new TrustStore().addRoot(bytes); // role ca, names itself, signed by its own key
    } catch (e) {
      throw answer(e, 'the root is not a self-signed CA certificate');
    }
    if (this.o.root && hex(this.o.root) !== hex(bytes)) throw new CaError('BAD_ANSWER', 'the CA answered with another root than the one pinned');
    this.pinned = root;
    return root;
  }

  /** GET /v1/crl: the current revocation list, verified with the root's key and naming it as issuer. */
  async crl(): Promise<RevocationList> {
    const root = await this.root();
    const bytes = await this.bytes(CA_PATHS.crl);
    let list: RevocationList;
    try {
      list = verifyRevocationList(bytes, root.publicKey);
    } catch (e) {
      throw answer(e, 'the revocation list does not verify with the root');
    }
    if (hex(list.issuerId) !== hex(root.subjectId!)) throw new CaError('BAD_ANSWER', 'the revocation list names another issuer');
    return list;
  }

  /** GET /v1/certificates/{serial}: that certificate, signed by the root. `revoked` as the CA says (check the CRL to be sure). */
  async certificate(serial: number): Promise<Certificate & { revoked: boolean }> {
    if (!Number.isSafeInteger(serial) || serial < 1) throw new CaError('BAD_REQUEST', 'a serial is a whole number from 1');
    const root = await this.root();
    const res = await this.call(`${CA_PATHS.certificates}${serial}`);
    const c = this.issuedByRoot(new Uint8Array(await res.arrayBuffer()), root);
    if (c.serial !== serial) throw new CaError('BAD_ANSWER', `asked for serial ${serial}, got ${String(c.serial)}`);
    return { ...c, revoked: res.headers.get('semper-revoked') === 'true' };
  }

  /**
   * POST /v1/registrations: registers the card whose key made `signature` over
   * registrationStatement(code). The answer must be a buyer-card certificate from the root, for
   * exactly that key (the one with this key id that made the signature), naming `cardId` if given.
   */
  async register(r: RegistrationRequest): Promise<Certificate> {
    const root = await this.root();
    const body: Record<string, string> = { code: r.code, signature: Buffer.from(r.signature).toString('base64url'), kid: Buffer.from(r.kid).toString('base64url') };
    if (r.cardId) body.cardId = hex(r.cardId);
    const c = this.issuedByRoot(await this.bytes(CA_PATHS.registrations, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }), root);
    const signer = recoverKey(registrationStatement(r.code), r.signature, r.kid);
    // recoverKey only answers the key with this key id that made the signature
    if (c.role !== 'buyer-card' || !signer || hex(c.publicKey) !== hex(signer)) throw new CaError('BAD_ANSWER', 'the certificate is not a card certificate for the key that signed');
    if (r.cardId && hex(c.subjectId ?? new Uint8Array(0)) !== hex(r.cardId)) throw new CaError('BAD_ANSWER', 'the certificate names another card');
    return c;
  }

  private issuedByRoot(bytes: Uint8Array, root: Certificate): Certificate {
    let c: Certificate;
    try {
      c = verifyCertificateSignature(bytes, root.publicKey);
    } catch (e) {
      throw answer(e, 'the certificate does not verify with the root');
    }
    if (hex(c.issuerId ?? new Uint8Array(0)) !== hex(root.subjectId!)) throw new CaError('BAD_ANSWER', 'the certificate names another issuer');
    return c;
  }
}

function answer(e: unknown, what: string): CaError {
  if (e instanceof CertificateError) return new CaError('BAD_ANSWER', `${what}: ${e.code} ${e.message}`);
  throw e;
}
