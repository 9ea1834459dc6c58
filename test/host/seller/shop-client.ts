// A browser-like HTTP client for the shop tests: real HTTP on 127.0.0.1, one cookie jar,
// form posts with the page's token, no redirect following (tests look at the 303 itself).

import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class ShopClient {
  cookie: string | undefined;

  constructor(readonly port: number) {}

  request(method: string, path: string, o: { headers?: Record<string, string>; body?: string; noCookie?: boolean } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Host: `127.0.0.1:${this.port}`, ...o.headers };
      if (this.cookie && !o.noCookie) headers.Cookie = this.cookie;
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const set = res.headers['set-cookie']?.[0];
          if (set) this.cookie = set.split(';')[0];
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
        });
      });
      req.on('error', reject);
      req.end(o.body);
    });
  }

  get(path: string): Promise<Reply> {
    return this.request('GET', path);
  }

  /** The form token of the last page this session saw (every page with a form has one). */
  async token(): Promise<string> {
    const page = await this.get('/cart');
    const m = /name="token" value="([^"]*)"/.exec(page.body) ?? /name="token" value="([^"]*)"/.exec((await this.get('/')).body);
    if (!m) throw new Error('no form token on the page');
    return m[1];
  }

  async post(path: string, fields: Record<string, string>, o: { headers?: Record<string, string>; noToken?: boolean; noCookie?: boolean } = {}): Promise<Reply> {
    const form = new URLSearchParams(fields);
    if (!o.noToken && !('token' in fields)) form.set('token', await this.token());
    return this.request('POST', path, {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: `http://127.0.0.1:${this.port}`, ...o.headers },
      body: form.toString(),
      noCookie: o.noCookie,
    });
  }
}

/** The text of a page without tags, for assertions on what the buyer reads. */
export function visibleText(body: string): string {
  return body
    .replace(/<[^>]*>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}
