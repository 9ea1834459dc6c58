// The gate in front of every request of the agent's local API: who is asking (Host, Origin,
// the local token) and whether a state-changing request carries the token issued to its
// origin. Pure functions over header values, so the rules are tested alone (property tests)
// and the server applies them in one place, before any routing.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { normaliseOrigin, PreferenceError } from '../services/preferences';
import { AgentError } from './errors';

/** The longest origin the device can show in a statement (SPEC §5.4 field 10). */
export const MAX_ORIGIN = 96;

/**
 * DNS rebinding: a page from attacker.example whose name now resolves to 127.0.0.1 still
 * sends `Host: attacker.example:<port>`. Only the agent's own names pass. `values` are the
 * Host headers as received (node's `headersDistinct`): exactly one is accepted.
 */
export function checkHost(values: string[] | undefined, port: number): void {
  const ok = [`127.0.0.1:${port}`, `localhost:${port}`];
  if (!values || values.length !== 1 || !ok.includes(values[0].toLowerCase())) {
    throw new AgentError('BAD_HOST', `this is the SEMPER agent on 127.0.0.1:${port}; requests naming another host are refused`);
  }
}

/**
 * The requesting page's origin from the Origin header(s): undefined when there is none (not
 * a browser, or a no-cors subresource request). The header must be an http(s) origin exactly
 * as browsers serialise it — `null`, a path, upper case or a default port spelled out are
 * refused rather than normalised, so that the allow-list compares what the browser said.
 */
export function requestOrigin(values: string[] | undefined): string | undefined {
  if (values === undefined || values.length === 0) return undefined;
  if (values.length !== 1) throw new AgentError('BAD_ORIGIN', 'more than one Origin header');
  const raw = values[0];
  let origin: string;
  try {
    origin = normaliseOrigin(raw);
  } catch (e) {
    if (e instanceof PreferenceError) throw new AgentError('BAD_ORIGIN', `Origin ${JSON.stringify(raw.slice(0, 100))} is not a web origin this agent serves`);
    throw e;
  }
  if (origin !== raw) throw new AgentError('BAD_ORIGIN', `Origin ${JSON.stringify(raw.slice(0, 100))} is not in serialised form (${origin})`);
  if (origin.length > MAX_ORIGIN) throw new AgentError('BAD_ORIGIN', `origins longer than ${MAX_ORIGIN} characters cannot be shown on the device`);
  return origin;
}

/** `application/json`, with or without parameters: what a form or a simple fetch cannot send. */
export function checkJsonContentType(value: string | undefined): void {
  const type = (value ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new AgentError('BAD_CONTENT_TYPE', 'state-changing requests carry a JSON body (Content-Type: application/json)');
}

/** Equal-length digests, so the comparison takes the same time whatever was presented. */
function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

const b64url = (b: Buffer): string => b.toString('base64url');

/**
 * The agent's secrets for one run: the local token (for clients without an Origin, from a
 * 0600 file) and the key that derives each origin's CSRF token. Both are new at every start,
 * so a token that leaked dies with the process; a paired page simply asks again.
 */
export class AgentSecrets {
  readonly localToken: string;
  private readonly key: Buffer;

  constructor(opts: { localToken?: string } = {}) {
    this.localToken = opts.localToken ?? b64url(randomBytes(32));
    this.key = randomBytes(32);
  }

  /** The token bound to `origin`: HMAC-SHA256(run key, origin), base64url. */
  originToken(origin: string): string {
    return b64url(createHmac('sha256', this.key).update(`semper-agent csrf v1\0${origin}`).digest());
  }

  /** Constant-time check of an X-Semper-Token against the one issued to `origin`. */
  checkOriginToken(origin: string, presented: string | undefined): void {
    if (typeof presented !== 'string' || !sameSecret(presented, this.originToken(origin))) {
      throw new AgentError('BAD_TOKEN', 'X-Semper-Token is missing or was not issued to this origin: call pair() again to get the current one');
    }
  }

  /** Constant-time check of `Authorization: Bearer <local token>` for clients without an Origin. */
  checkLocal(authorization: string | undefined): void {
    const m = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(authorization ?? '');
    if (!m || !sameSecret(m[1], this.localToken)) {
      throw new AgentError('LOCAL_TOKEN_REQUIRED', 'requests without an Origin need the agent\u2019s local token (Authorization: Bearer …, from the token file semper agent start names)');
    }
  }
}
