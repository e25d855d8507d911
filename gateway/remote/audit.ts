import type { Logger } from '../log.js';
import type { ChangeState } from './records.js';

/** One audit event: who asked, what changed (redacted), and how it ended. */
export interface AuditEvent {
  request: string;
  actor: string;
  user_properties?: Record<string, string | string[]>;
  change_id?: string;
  result: string;
  reason?: string;
  diff?: ChangeState['diff'];
  hash?: string;
  previous_hash?: string;
  at: string;
}

/** The journal's copy of an audit event (the broker's copy goes to `admin/audit`). */
export function journal(logger: Logger, e: AuditEvent): void {
  logger.info(
    { audit: e },
    `remote: ${e.request} by ${e.actor}: ${e.result}${e.reason ? ` (${e.reason})` : ''}`,
  );
}
