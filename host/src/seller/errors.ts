// The seller side's typed errors. Callers match on `code`, never on the message; messages
// are meant for the buyer or the operator and carry nothing secret (no SQL, no stack).

export type CatalogueErrorCode =
  | 'BAD_QUERY' // the search text or a filter cannot be understood; nothing was searched
  | 'BAD_ARTICLE' // an article to add breaks a rule of the schema (field named in `field`)
  | 'DUPLICATE' // an article with this SKU exists already
  | 'NOT_FOUND' // no article with this SKU
  | 'NOT_DIGITAL' // content was asked of a physical article
  | 'OUT_OF_STOCK' // fewer pieces in stock than asked for; nothing was taken
  | 'BAD_CART'; // a cart change breaks a rule (quantity, number of lines, one copy of digital goods)

export class CatalogueError extends Error {
  override readonly name = 'CatalogueError';
  constructor(
    readonly code: CatalogueErrorCode,
    message: string,
    /** The request field at fault (`text`, `maxPrice`, `sku`, …), when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** True for a CatalogueError, by shape (jest loads a module once per suite; instanceof can lie). */
export function isCatalogueError(e: unknown, code?: CatalogueErrorCode): e is CatalogueError {
  const x = e as { name?: unknown; code?: unknown } | null;
  return typeof x === 'object' && x !== null && x.name === 'CatalogueError' && typeof x.code === 'string' && (code === undefined || x.code === code);
}
