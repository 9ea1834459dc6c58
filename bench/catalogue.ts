// npm run bench:catalogue — the seller's catalogue at the size of the trial's mail-order
// catalogue (13,000 articles, seed §4.3): how long the first start takes to generate and index
// it, and search latency (p50/p99) and queries per second for a deterministic mix of what
// buyers type — words, prefixes, phrases, exclusions, OR, kind and price filters, browsing by
// page — then the worst case (a word in a third of the catalogue) and the shop's search page
// over HTTP. Figures beside their goals, not pass/fail.

import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalogue, SearchRequest } from '../host/src/seller/catalogue';
import { DEMO_CATALOGUE_SIZE, demoArticles, openDemoCatalogue, seededRandom } from '../host/src/seller/demo-catalogue';
import { startShop } from '../host/src/seller/shop-server';

function row(name: string, value: string, goal: string): void {
  console.log(`  ${name.padEnd(56)} ${value.padStart(12)}   goal ${goal}`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A deterministic mix of searches, made from the catalogue's own words. */
function queryMix(n: number): SearchRequest[] {
  const r = seededRandom(42);
  const words = [...new Set(demoArticles().flatMap((a) => a.title.toLowerCase().match(/\p{L}{3,}/gu) ?? []))].sort();
  const w = (): string => words[Math.floor(r() * words.length)];
  const kinds = ['physical', 'digital-document', 'database-query'] as const;
  const mix: SearchRequest[] = [];
  for (let i = 0; i < n; i++) {
    const roll = r();
    if (roll < 0.3) mix.push({ text: w() });
    else if (roll < 0.45) mix.push({ text: `${w().slice(0, 3 + Math.floor(r() * 3))}*` });
    else if (roll < 0.6) mix.push({ text: `${w()} ${w()}` });
    else if (roll < 0.68) mix.push({ text: `"${w()} ${w()}"` });
    else if (roll < 0.74) mix.push({ text: `${w()} -${w()}` });
    else if (roll < 0.8) mix.push({ text: `${w()} OR ${w()}` });
    else if (roll < 0.92) mix.push({ text: w(), kind: kinds[Math.floor(r() * 3)], minPrice: 500, maxPrice: 5000 + Math.floor(r() * 10000) });
    else mix.push({ kind: r() < 0.5 ? 'physical' : undefined, sort: r() < 0.5 ? 'price' : 'title', page: 1 + Math.floor(r() * 50) });
    if (r() < 0.1) mix[mix.length - 1].page = 2 + Math.floor(r() * 3);
  }
  return mix;
}

function latencies(catalogue: Catalogue, mix: SearchRequest[]): { times: number[]; wall: number } {
  for (const q of mix.slice(0, 200)) catalogue.search(q); // warm statements and pages
  const times: number[] = [];
  const t0 = performance.now();
  for (const q of mix) {
    const t = performance.now();
    catalogue.search(q);
    times.push(performance.now() - t);
  }
  return { times: times.sort((a, b) => a - b), wall: performance.now() - t0 };
}

function get(agent: http.Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent, headers: { Host: `127.0.0.1:${port}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

async function main(): Promise<void> {
  console.log(`SEMPER seller: the catalogue at the trial's size (${DEMO_CATALOGUE_SIZE.toLocaleString('en-GB')} articles)\n`);
  const dir = mkdtempSync(join(tmpdir(), 'semper-bench-catalogue-'));
  try {
    let t0 = performance.now();
    const catalogue = openDemoCatalogue(join(dir, 'catalogue.db'));
    row('first start: generate, store and index (WAL, FULL), s', ((performance.now() - t0) / 1000).toFixed(2), '≤ 5 (once)');

    const mix = queryMix(3000);
    const { times, wall } = latencies(catalogue, mix);
    row(`search latency p50 (${mix.length} mixed searches), ms`, percentile(times, 50).toFixed(2), '≤ 5');
    row('search latency p99, ms', percentile(times, 99).toFixed(2), '≤ 20');
    row('search latency max, ms', times[times.length - 1].toFixed(2), 'reported');
    row('searches per second (one connection)', ((mix.length * 1000) / wall).toFixed(0), '≥ 200');

    const filtered = latencies(catalogue, mix.filter((q) => q.text && q.kind));
    row(`filtered searches (text + kind + price) p99, ms (${filtered.times.length})`, percentile(filtered.times, 99).toFixed(2), '≤ 20');

    // the worst case: a word in a third of the catalogue, every match ranked
    const common = catalogue.search({ text: 'in' }).total;
    const worst = latencies(catalogue, Array.from({ length: 300 }, (_, i) => ({ text: 'in', page: 1 + (i % 5) })));
    row(`worst case: "in" (${common.toLocaleString('en-GB')} hits, BM25 over all) p99, ms`, percentile(worst.times, 99).toFixed(2), '≤ 50');

    const shop = await startShop({ catalogue });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const paths = mix.slice(0, 1000).map((q) => `/?q=${encodeURIComponent(q.text ?? '')}${q.kind ? `&kind=${q.kind}` : ''}${q.page ? `&page=${q.page}` : ''}`);
      for (const p of paths.slice(0, 100)) await get(agent, shop.port, p);
      const pageTimes: number[] = [];
      t0 = performance.now();
      for (const p of paths) {
        const t = performance.now();
        const status = await get(agent, shop.port, p);
        if (status !== 200 && status !== 400) throw new Error(`${p}: HTTP ${status}`);
        pageTimes.push(performance.now() - t);
      }
      const pageWall = performance.now() - t0;
      pageTimes.sort((a, b) => a - b);
      row('search page over HTTP (render + escape) p50, ms', percentile(pageTimes, 50).toFixed(2), '≤ 10');
      row('search page over HTTP p99, ms', percentile(pageTimes, 99).toFixed(2), '≤ 50');
      row('search pages per second (one keep-alive connection)', ((paths.length * 1000) / pageWall).toFixed(0), '≥ 100');
    } finally {
      agent.destroy();
      await shop.close();
      catalogue.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench:catalogue: ${(e as Error).message}`);
    process.exit(1);
  },
);
