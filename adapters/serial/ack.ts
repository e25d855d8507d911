import type { StoreOutcome } from '../types.js';

/**
 * Settle callbacks for the n Readings of one acked frame. The frame is acked once every Reading is
 * 'stored' or 'filtered' (delivery contract 1); a single 'congestion' or 'error' withholds the ack
 * for good, so the device keeps the frame and resends it. Each callback counts once.
 */
export function settleGroup(n: number, onAck: () => void, onWithhold: (outcome: StoreOutcome) => void) {
  let left = n;
  let failed = false;
  const settle = (): ((outcome: StoreOutcome) => void) => {
    let called = false;
    return (outcome) => {
      if (called || failed) return;
      called = true;
      if (outcome === 'congestion' || outcome === 'error') {
        failed = true;
        onWithhold(outcome);
      } else if (--left === 0) onAck();
    };
  };
  return Array.from({ length: n }, settle);
}
