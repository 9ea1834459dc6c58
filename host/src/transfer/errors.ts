// The transfer layer's typed errors (SEMPER §3.3, §3.6). Match on `code`, never on the message.

export type TransferErrorCode =
  | 'MALFORMED' // a package, item, envelope or receipt that is not the format (detail: path of the bad field)
  | 'INTEGRITY' // the package signature does not verify, or the content does not hash to what was signed
  | 'ORIGIN' // signed, but not by the key of the party it claims to come from (or that party is unknown)
  | 'CONFIDENTIALITY' // the content does not decrypt under the key agreed for this recipient
  | 'RECEIPT_MISSING' // non-repudiation of receipt was requested and the peer answered without a receipt
  | 'RECEIPT_INVALID' // a receipt not signed by the recipient, or naming another transfer or content
  | 'ANONYMITY_LEAK' // an anonymous transfer would carry the sender's name, key or key id
  | 'ATTRIBUTE_MISSING' // the receiver requires a security attribute the transfer does not have
  | 'ATTRIBUTE_CONFLICT' // attributes that cannot hold together (anonymity + non-repudiation of origin)
  | 'REPLAY' // a transfer id the receiver has already accepted
  | 'REFUSED' // the receiver's application refused the package (detail: its reason)
  | 'CHANNEL' // the channel failed (connection, HTTP status); outcome unknown
  | 'NO_COMMON_MODULE' // negotiation: the two offers share no module
  | 'DUPLICATE_MODULE' // a module with that name and version is registered already
  | 'UNKNOWN_MODULE'; // no module with that name (and version)

export class TransferError extends Error {
  override readonly name = 'TransferError';
  constructor(
    readonly code: TransferErrorCode,
    message: string,
    /** Where: the path of a bad field ("3/1/2"), a peer's reason. Never key material. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

export function isTransferError(e: unknown, code?: TransferErrorCode): e is TransferError {
  return e instanceof TransferError && (code === undefined || e.code === code);
}
