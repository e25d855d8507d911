import { execFile } from 'node:child_process';

/**
 * Sends one UDP datagram to 127.0.0.1:dstPort from an arbitrary source port, 0 included, which Node's
 * dgram cannot do: python3 with a raw socket and a hand-built IPv4 + UDP header (needs root or
 * CAP_NET_RAW; the UDP checksum is 0 = "none", valid for IPv4).
 */
const SCRIPT = `
import socket, struct, sys
dport, sport, data = int(sys.argv[1]), int(sys.argv[2]), bytes.fromhex(sys.argv[3])
lo = socket.inet_aton('127.0.0.1')
udp = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0, lo, lo)
s = sum(struct.unpack('!10H', hdr)); s = (s >> 16) + (s & 0xffff); s += s >> 16
hdr = hdr[:10] + struct.pack('!H', ~s & 0xffff) + hdr[12:]
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sock.sendto(hdr + udp, ('127.0.0.1', 0))
`;

export function sendRawUdp(dstPort: number, srcPort: number, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(
      'python3',
      ['-c', SCRIPT, String(dstPort), String(srcPort), payload.toString('hex')],
      { timeout: 5000 },
      (err, _out, stderr) => (err ? reject(new Error(`raw UDP send failed: ${stderr || err}`)) : resolve()),
    ),
  );
}
