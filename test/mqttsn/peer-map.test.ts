import { describe, expect, it } from 'vitest';
import { PeerMap } from '../../adapters/mqttsn/peer-map.js';

describe('mqttsn PeerMap', () => {
  it('keys by address and port, a forwarded node by its node id as well', () => {
    const m = new PeerMap<string>();
    const node = (id: number) => ({
      address: '10.0.0.1',
      port: 5000,
      forward: { radius: 1, nodeId: Buffer.of(id) },
    });
    m.set({ address: '10.0.0.1', port: 5000 }, 'direct');
    m.set({ address: '10.0.0.1', port: 5001 }, 'other port');
    m.set(node(1), 'node 1');
    m.set(node(2), 'node 2');
    // Fresh peer objects (one per datagram) find what was stored under an equal peer.
    expect(m.get({ address: '10.0.0.1', port: 5000 })).toBe('direct');
    expect(m.get({ address: '10.0.0.1', port: 5001 })).toBe('other port');
    expect(m.get({ address: '10.0.0.2', port: 5000 })).toBeUndefined();
    expect(m.get(node(1))).toBe('node 1');
    expect(m.get(node(2))).toBe('node 2');
    expect(m.get(node(3))).toBeUndefined();
    m.delete({ address: '10.0.0.1', port: 5000 });
    expect(m.get({ address: '10.0.0.1', port: 5000 })).toBeUndefined();
    expect(m.get({ address: '10.0.0.1', port: 5001 })).toBe('other port');
    expect(m.get(node(1))).toBe('node 1'); // the forwarder's nodes are not the forwarder
    m.delete(node(1));
    expect(m.get(node(1))).toBeUndefined();
    expect(m.get(node(2))).toBe('node 2');
  });
});
