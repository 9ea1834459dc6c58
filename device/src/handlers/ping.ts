// PING: echoes its data; the host's link test and round-trip measurement.

import { Request } from '../link/host-link';

export function ping(req: Request): void {
  req.reply({ data: req.msg.body.data });
}
