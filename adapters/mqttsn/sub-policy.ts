import { intersects } from './acl.js';
import type { Ctx } from './context.js';

/**
 * May this device hold a subscription to `filter` (a SUBSCRIBE, a restored subscription, or an
 * upstream topic about to be handed to it)? A device subscription makes the gateway subscribe
 * upstream with its own broker account, so: never a broker-special topic (`$SYS`, `$share/…`,
 * `$queue/…`), never anything overlapping the gateway's own command and admin topics, and without
 * an `acl` nothing at all unless `open_subscriptions` says so. `filter` is as the device sees it
 * (the ACL's view); the broker sees it behind `topic_prefix`. Returns why not, or undefined.
 */
export function subscriptionRefusal(
  ctx: Ctx,
  clientId: string,
  filter: string,
): 'reserved_filter' | 'acl_denied' | undefined {
  const upstream = ctx.cfg.topic_prefix + filter;
  if (filter.startsWith('$') || upstream.startsWith('$')) return 'reserved_filter';
  for (const own of ctx.reserved().filters) if (intersects(own, upstream)) return 'reserved_filter';
  if (!ctx.cfg.acl && !ctx.cfg.open_subscriptions) return 'acl_denied';
  return ctx.acl.maySubscribe(clientId, filter) ? undefined : 'acl_denied';
}
