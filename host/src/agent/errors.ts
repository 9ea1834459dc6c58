// The agent's error answers: `{error: {code, message}}` with a typed code and its HTTP status.
// Nothing else leaves the agent on failure — no stack, no SQL, no path — so a page learns what
// it may do next and nothing about the machine.

export type AgentErrorCode =
  | 'BAD_HOST' // Host header is not 127.0.0.1:<port> or localhost:<port> (DNS rebinding)
  | 'CROSS_SITE' // a statement page asked for by a web page (Origin, or Sec-Fetch-Site other than none/same-origin)
  | 'BAD_ORIGIN' // Origin header is not an http(s) origin in its serialised form (`null`, a path, upper case…)
  | 'NOT_PAIRED' // the origin is not on the allow-list: pair first
  | 'PAIRING_BLOCKED' // the user has a rule denying this origin
  | 'LOCAL_TOKEN_REQUIRED' // no Origin (not a browser): the agent's local token is needed
  | 'BAD_TOKEN' // X-Semper-Token missing or not the one issued to this origin
  | 'BAD_CONTENT_TYPE' // a state-changing request whose body is not application/json
  | 'BAD_REQUEST' // the body does not match the endpoint's schema
  | 'TOO_LARGE' // the body is over the agent's limit
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'DEVICE_BUSY' // another pairing is waiting on the device
  | 'OVER_LIMIT' // the origin's spending limit refuses this amount: the device was not asked
  | 'DENIED' // a rule denies this origin payments
  | 'INTERNAL';

const STATUS: Record<AgentErrorCode, number> = {
  BAD_HOST: 403,
  CROSS_SITE: 403,
  BAD_ORIGIN: 403,
  NOT_PAIRED: 403,
  PAIRING_BLOCKED: 403,
  LOCAL_TOKEN_REQUIRED: 401,
  BAD_TOKEN: 403,
  BAD_CONTENT_TYPE: 415,
  BAD_REQUEST: 400,
  TOO_LARGE: 413,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  DEVICE_BUSY: 409,
  OVER_LIMIT: 403,
  DENIED: 403,
  INTERNAL: 500,
};

export class AgentError extends Error {
  override readonly name = 'AgentError';
  constructor(
    readonly code: AgentErrorCode,
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return STATUS[this.code];
  }
}

/** The JSON body of an error answer. */
export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}
