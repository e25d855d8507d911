import { isIPv4 } from 'node:net';
import { z } from 'zod';

/** 224.0.0.0 to 239.255.255.255 (IPv4 class D). */
export function isIpv4Multicast(address: string): boolean {
  if (!isIPv4(address)) return false;
  const first = Number(address.slice(0, address.indexOf('.')));
  return first >= 224 && first <= 239;
}

/**
 * mqttsn.multicast: the group Paho's clients and GatewayTester search on (225.1.1.1 by default there).
 * IPv4 only. `interface` is the address of the local interface to join on and send from (the sensor
 * network's); absent = the one the routing table picks.
 */
export const multicastSchema = z
  .strictObject({
    group: z.string().refine(isIpv4Multicast, {
      message: 'expected an IPv4 multicast address (224.0.0.0 to 239.255.255.255)',
    }),
    port: z.number().int().min(1).max(65535),
    interface: z
      .string()
      .refine((a) => isIPv4(a) && !isIpv4Multicast(a), {
        message: 'expected the IPv4 address of a local interface',
      })
      .optional(),
  })
  .optional();
export type MulticastConfig = NonNullable<z.output<typeof multicastSchema>>;
