// @semper/client — a merchant page's way to the buyer's SEMPER agent on 127.0.0.1.
// Plain ES module, no dependencies, no loader: bundle it with the shop's own code (never load
// it from a CDN — see README.md). The agent decides; this file only speaks its API.

/** Where `semper agent start` listens unless told otherwise. */
export const DEFAULT_AGENT = 'http://127.0.0.1:37139';
const LONG_POLL_S = 25;
const FINAL = ['completed', 'refused', 'failed'];

/** An answer of the agent (code from its API, e.g. NOT_PAIRED, OVER_LIMIT) or AGENT_UNREACHABLE. */
export class SemperError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SemperError';
    this.code = code;
  }
}

function checkAgentUrl(url) {
  const u = new URL(url);
  // the agent only ever answers on loopback; any other address is not the buyer's agent
  if (u.protocol !== 'http:' || (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') || u.pathname !== '/' || u.search || u.hash) {
    throw new SemperError('BAD_AGENT_URL', `the agent is at http://127.0.0.1:<port>, not ${url}`);
  }
  return u.origin;
}

export class SemperClient {
  #agent;
  #fetch;
  #WebSocket;
  #token = null;
  #listeners = new Set();
  #socket = null;

  /**
   * @param {{agent?: string, fetch?: typeof fetch, WebSocket?: typeof WebSocket}} [options]
   */
  constructor(options = {}) {
    this.#agent = checkAgentUrl(options.agent ?? DEFAULT_AGENT);
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
  }

  /** The agent and its device, for this (paired) origin. */
  async status() {
    return this.#call('GET', '/v1/status');
  }

  /**
   * Pairs this page's origin with the agent. When it is already paired this resolves at once;
   * otherwise `onCode(code)` is called with the code to SHOW ON THE PAGE while the buyer
   * compares it with the device's screen and presses OK there. Resolves with the pairing
   * (state `paired`); a refusal on the device or its timeout rejects (PAIRING_REFUSED,
   * PAIRING_TIMEOUT, PAIRING_FAILED).
   * @param {{onCode?: (code: string) => void, signal?: AbortSignal}} [options]
   */
  async pair(options = {}) {
    let { pairing } = await this.#call('POST', '/v1/pair', {}, options.signal);
    if (pairing.state === 'pending') {
      options.onCode?.(pairing.code);
      while (pairing.state === 'pending') ({ pairing } = await this.#call('GET', `/v1/pair/${encodeURIComponent(pairing.id)}?wait=${LONG_POLL_S}`, undefined, options.signal));
    }
    if (pairing.state !== 'paired') {
      const why = { refused: 'the buyer declined the pairing on the device', timeout: 'nobody answered on the device in time', failed: pairing.error?.message ?? 'the device could not show the pairing' };
      throw new SemperError(`PAIRING_${pairing.state.toUpperCase()}`, why[pairing.state] ?? pairing.state);
    }
    this.#token = pairing.token;
    return pairing;
  }

  /**
   * Starts a purchase and resolves when it has ended (completed, refused or failed — look at
   * `state`). Needs pair() first. Amounts are integer minor units: 12.50 EUR is
   * `{amount: 1250, currency: 'EUR'}`.
   * @param {{offer: string, amount: {amount: number, currency: string}, payee?: string, reference?: string, title?: string}} request
   * @param {{signal?: AbortSignal}} [options]
   */
  async purchase(request, options = {}) {
    if (!this.#token) throw new SemperError('NOT_PAIRED', 'call pair() before purchase()');
    if (this.#listeners.size) await this.#openEvents();
    let { purchase } = await this.#call('POST', '/v1/purchases', request, options.signal);
    while (!FINAL.includes(purchase.state)) ({ purchase } = await this.#call('GET', `/v1/purchases/${encodeURIComponent(purchase.id)}?wait=${LONG_POLL_S}`, undefined, options.signal));
    return purchase;
  }

  /**
   * Calls `listener(purchase)` whenever one of this origin's purchases changes (its `progress`
   * says which step, and whether the device waits for the buyer). Returns the unsubscribe function.
   * @param {(purchase: object) => void} listener
   */
  onProgress(listener) {
    this.#listeners.add(listener);
    if (this.#token) this.#openEvents().catch(() => {});
    return () => {
      this.#listeners.delete(listener);
      if (!this.#listeners.size) this.close();
    };
  }

  /** Closes the events socket. */
  close() {
    this.#socket?.close();
    this.#socket = null;
  }

  #openEvents() {
    if (this.#socket) return this.#socket.ready;
    const ws = new this.#WebSocket(`${this.#agent.replace(/^http/, 'ws')}/v1/events`, ['semper-events.v1', `semper-token.${this.#token}`]);
    const entry = { ws, close: () => ws.close() };
    entry.ready = new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        let m;
        try {
          m = JSON.parse(e.data);
        } catch {
          return;
        }
        if (m.type === 'ready') resolve();
        else if (m.type === 'purchase') for (const l of this.#listeners) l(m.purchase);
      };
      ws.onerror = () => reject(new SemperError('EVENTS_REFUSED', 'the agent refused the events socket'));
      ws.onclose = () => {
        if (this.#socket === entry) this.#socket = null;
      };
    });
    this.#socket = entry;
    return entry.ready;
  }

  async #call(method, path, body, signal) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.#token && method === 'POST') headers['X-Semper-Token'] = this.#token;
    let res;
    try {
      res = await this.#fetch(this.#agent + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      throw new SemperError('AGENT_UNREACHABLE', 'the SEMPER agent does not answer: is `semper agent start` running on this computer?');
    }
    let json;
    try {
      json = await res.json();
    } catch {
      throw new SemperError('BAD_ANSWER', `the agent answered ${res.status} without JSON`);
    }
    if (!res.ok) {
      if (json?.error?.code === 'BAD_TOKEN') this.#token = null;
      throw new SemperError(json?.error?.code ?? 'ERROR', json?.error?.message ?? `HTTP ${res.status}`);
    }
    return json;
  }
}
