// The seller on the network: its offers where a buyer's agent can fetch them, and its
// exchange endpoint, on one HTTP server (127.0.0.1 unless told otherwise).
//
//   GET  /offers/{offer id hex}   → application/cbor {1: offer, 2: certificate, 3: workflow, 4: exchange URL}
//   POST /semper/transfer         → the exchange layer's messages (application/cbor)

import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { decodeCanonical, encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { COSE_LIMITS } from '../../../shared/src/cose';
import { listen, Listening } from '../services/http-server';
import { readBody, TRANSFER_PATH } from '../transfer/channel';
import { CommerceError } from './offer';
import { OfferBundle, Seller } from './seller';

export const OFFER_PATH = '/offers/';
const MAX_BODY = 4 << 20;

/** An offer bundle as it travels: canonical CBOR. */
export function encodeOfferBundle(b: OfferBundle, exchangeUrl: string): Uint8Array {
  return encodeCanonical(new Map<number, HostCbor>([[1, b.offer], [2, b.certificate], [3, b.workflow], [4, exchangeUrl]]));
}

export function decodeOfferBundle(bytes: Uint8Array): OfferBundle & { exchangeUrl: string } {
  let m: HostCbor;
  try {
    m = decodeCanonical(bytes, { ...COSE_LIMITS, maxSize: 64 * 1024 });
  } catch (e) {
    throw new CommerceError('MALFORMED', `the offer bundle is not canonical CBOR: ${(e as Error).message}`);
  }
  const [offer, certificate, workflow, url] = m instanceof Map ? [m.get(1), m.get(2), m.get(3), m.get(4)] : [];
  if (!(offer instanceof Uint8Array) || !(certificate instanceof Uint8Array) || !(workflow instanceof Uint8Array) || typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new CommerceError('MALFORMED', 'an offer bundle is {1: offer, 2: certificate, 3: workflow, 4: exchange URL}');
  return { offer, certificate, workflow, exchangeUrl: url };
}

/** Serves the seller's offers and its exchange endpoint. `publicUrl` is how buyers reach it (default: the listening address). */
export async function serveSeller(seller: Seller, o: { port?: number; host?: string; publicUrl?: string } = {}): Promise<Listening & { offerUrl(offerId: string): string }> {
  let base = o.publicUrl ?? '';
  const bundles = new Map<string, OfferBundle>();
  seller.onOffer = (id, b) => bundles.set(id, b);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://seller').pathname;
      if (req.method === 'GET' && path.startsWith(OFFER_PATH)) {
        const b = bundles.get(path.slice(OFFER_PATH.length));
        if (!b) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such offer (it may have expired)');
        const body = encodeOfferBundle(b, `${base}${TRANSFER_PATH}`);
        return void res.writeHead(200, { 'content-type': 'application/cbor', 'content-length': body.length, 'cache-control': 'no-store' }).end(Buffer.from(body));
      }
      if (req.method === 'POST' && path === TRANSFER_PATH) {
        if (req.headers['content-type'] !== 'application/cbor') return void res.writeHead(415).end();
        const body = await readBody(req, MAX_BODY);
        if (!body) return void res.writeHead(413).end();
        const answer = await seller.handler(new Uint8Array(body));
        return void res.writeHead(200, { 'content-type': 'application/cbor', 'content-length': answer.length }).end(Buffer.from(answer));
      }
      res.writeHead(404).end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const l = await listen(server, o);
  if (!base) base = l.url;
  return { ...l, offerUrl: (id) => `${base}${OFFER_PATH}${id}` };
}

/** The buyer's side: fetches an offer bundle from its URL. CommerceError if it cannot. */
export async function fetchOfferBundle(url: string, signal?: AbortSignal): Promise<OfferBundle & { exchangeUrl: string }> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/cbor' } });
  } catch (e) {
    throw new CommerceError('NOT_FOUND', `the offer at ${url} cannot be fetched: ${(e as Error).message}`);
  }
  if (!res.ok) throw new CommerceError('NOT_FOUND', `the offer at ${url}: HTTP ${res.status}`);
  return decodeOfferBundle(new Uint8Array(await res.arrayBuffer()));
}
