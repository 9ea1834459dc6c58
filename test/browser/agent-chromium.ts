// Chromium as the agent's browser tests launch it (Debian's /usr/bin/chromium through
// playwright-core): every test name resolves to 127.0.0.1 — the shop, a foreign site and the
// DNS-rebinding attacker — and Chromium's own Local Network Access checks are off, so the tests
// show the agent's defences, not the browser's.

import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium';

export { CHROMIUM } from '../helpers/chromium';

export function launchAgentChromium(): Promise<Browser> {
  return launchChromium([
    // single-label names keep the origin on one row of the device's display
    '--host-resolver-rules=MAP shop 127.0.0.1, MAP evil 127.0.0.1, MAP attacker.test 127.0.0.1',
    // Chromium's own Local Network Access prompt would stop the rebinding page before the
    // agent sees it; switched off, so the test shows the agent's defence, not the browser's
    '--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults',
  ]);
}
