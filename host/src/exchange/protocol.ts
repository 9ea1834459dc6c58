// Which fair-exchange protocol two items allow (PROTOCOLS.md): decided from the
// exchange-enabling properties of the two transfers alone, never from the item types.

import { ExchangeError } from './errors';
import { hasProperty, ProtocolName } from './formats';

export interface ProtocolChoice {
  protocol: ProtocolName;
  /** Which of the two items is the originator's: 'first' (the proposer's) or 'second'. */
  originator: 'first' | 'second';
}

/**
 * `first` is the proposer's item, `second` the peer's (effective property bits). Without
 * fairness: plain/1. Else gen-ev/1 with the generateable side originating (the proposer when
 * both qualify), else rev-rev/1, else NO_PROTOCOL — fairness cannot be had for these items.
 */
export function chooseProtocol(first: number, second: number, fair: boolean, supported: readonly ProtocolName[] = ['plain/1', 'gen-ev/1', 'rev-rev/1']): ProtocolChoice {
  const candidates: ProtocolChoice[] = [];
  if (!fair) candidates.push({ protocol: 'plain/1', originator: 'first' });
  else {
    if (hasProperty(first, 'generateable') && hasProperty(second, 'externally-verifiable')) candidates.push({ protocol: 'gen-ev/1', originator: 'first' });
    if (hasProperty(second, 'generateable') && hasProperty(first, 'externally-verifiable')) candidates.push({ protocol: 'gen-ev/1', originator: 'second' });
    if (hasProperty(first, 'revocable') && hasProperty(second, 'revocable')) candidates.push({ protocol: 'rev-rev/1', originator: 'first' });
  }
  const c = candidates.find((x) => supported.includes(x.protocol));
  if (!c) throw new ExchangeError('NO_PROTOCOL', fair ? 'these two items allow no fair exchange: one must be generateable and the other externally verifiable, or both revocable' : 'the peer supports no plain exchange');
  return c;
}
