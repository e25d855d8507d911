import type { Admin } from './admin.js';
import { EXIT, exitForCode } from './exit-codes.js';
import { infoLines } from './info-view.js';
import { NoAnswer } from '../../upstream/operator-session.js';

/**
 * `fieldgate remote status GW`: the gateway's info, asked for live; when it does not answer, its
 * last retained info, said to be that, and the no-answer exit code.
 */
export async function statusCommand(
  admin: Admin,
  gateway: string,
  opts: { json?: boolean },
): Promise<number> {
  const print = (info: Record<string, unknown>) =>
    console.log(opts.json ? JSON.stringify(info) : infoLines(info).join('\n'));
  try {
    const a = await admin.request(gateway, 'info');
    if (a.code !== 'ok' || typeof a.body !== 'object' || a.body === null) {
      console.error(`${gateway}: ${a.code}: ${a.message}`);
      return exitForCode(a.code) || EXIT.refused;
    }
    print(a.body as Record<string, unknown>);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof NoAnswer)) throw err;
    const last = await admin.retainedInfo(gateway);
    if (!last) throw err;
    console.error(`${gateway}: ${err.message}; its last retained info:`);
    print(last);
    return EXIT.noAnswer;
  }
}
