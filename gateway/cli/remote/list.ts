import type { Admin } from './admin.js';
import { EXIT } from './exit-codes.js';
import { infoRow, LIST_HEADER } from './info-view.js';
import { table } from './table.js';
import { allInfoFilter, gatewayOfInfoTopic } from './topics.js';

/** How long to wait after the last retained info before the list is taken as complete. */
const QUIET_MS = 500;

/** `fieldgate remote list`: every gateway's retained info as a table (or JSON lines), sorted by id. */
export async function listCommand(
  admin: Admin,
  opts: { json?: boolean; staleAfterMs?: number },
): Promise<number> {
  const got = await admin.session.retained(allInfoFilter(admin.prefix), QUIET_MS, admin.settings.timeoutMs);
  const infos = new Map<string, Record<string, unknown>>();
  for (const m of got) {
    const id = gatewayOfInfoTopic(admin.prefix, m.topic);
    if (!id || !m.payload.length) continue;
    try {
      infos.set(id, JSON.parse(m.payload.toString()) as Record<string, unknown>);
    } catch {
      infos.set(id, {});
    }
  }
  const ids = [...infos.keys()].sort();
  if (opts.json) {
    for (const id of ids) console.log(JSON.stringify({ gateway: id, info: infos.get(id) }));
    return EXIT.ok;
  }
  if (!ids.length) {
    console.error(`no gateways: nothing retained on ${allInfoFilter(admin.prefix)}`);
    return EXIT.ok;
  }
  const now = Date.now();
  console.log(
    table(
      LIST_HEADER,
      ids.map((id) => infoRow(id, infos.get(id)!, now, opts.staleAfterMs)),
    ),
  );
  return EXIT.ok;
}
