// Types of @semper/client (index.mjs).

export declare const DEFAULT_AGENT: string;

export declare class SemperError extends Error {
  /** The agent's error code (NOT_PAIRED, BAD_TOKEN, OVER_LIMIT, DEVICE_BUSY…) or the client's own (AGENT_UNREACHABLE, PAIRING_REFUSED, PAIRING_TIMEOUT, PAIRING_FAILED, BAD_AGENT_URL, BAD_ANSWER, EVENTS_REFUSED). */
  readonly code: string;
  constructor(code: string, message: string);
}

export interface Money {
  /** Integer minor units: 1250 for 12.50 EUR. */
  amount: number;
  /** ISO 4217 code. */
  currency: string;
}

export interface PurchaseRequest {
  /** The merchant's offer: its URL or reference (1-512 characters). */
  offer: string;
  amount: Money;
  payee?: string;
  reference?: string;
  title?: string;
}

export interface PurchaseProgress {
  step: number;
  steps: number;
  label: string;
  waitingForUser: boolean;
}

export interface Purchase {
  id: string;
  origin: string;
  state: 'pending' | 'completed' | 'refused' | 'failed';
  request: PurchaseRequest;
  progress?: PurchaseProgress;
  result?: { state: 'completed' | 'refused'; message: string; details?: Record<string, unknown> };
  error?: { code: string; message: string };
  created: number;
  updated: number;
}

export interface Pairing {
  origin: string;
  state: 'paired';
  token: string;
  id?: string;
  code?: string;
}

export interface Status {
  agent: { name: string; api: number; version: string };
  device: { state: string; firmware?: string; card?: boolean };
  origin: string;
  paired: true;
}

export interface SemperClientOptions {
  /** The agent's URL (default http://127.0.0.1:37139); only loopback URLs are accepted. */
  agent?: string;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

export declare class SemperClient {
  constructor(options?: SemperClientOptions);
  status(): Promise<Status>;
  pair(options?: { onCode?: (code: string) => void; signal?: AbortSignal }): Promise<Pairing>;
  purchase(request: PurchaseRequest, options?: { signal?: AbortSignal }): Promise<Purchase>;
  onProgress(listener: (purchase: Purchase) => void): () => void;
  close(): void;
}
