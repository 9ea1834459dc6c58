// CANCEL: this firmware runs no long operation yet, so nothing is ever pending; the
// answer says so truthfully rather than pretending to cancel.

import { Request } from '../link/host-link';

export function cancel(req: Request): void {
  req.reply({ cancelled: false });
}
