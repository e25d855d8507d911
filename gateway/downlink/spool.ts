import type { InboxPut, InboxRow } from '../../contracts/store.js';
import type { RoutedCommand } from '../../rules/index.js';

/**
 * The gateway's durable spool of accepted upstream commands: inbox rows under target
 * `spool:<adapter>`, which no adapter ever drains. A command is spooled (one commit per upstream
 * message) before the message is acked upstream, and its row is removed once the adapter answered.
 */
export const SPOOL_PREFIX = 'spool:';

export function spoolTarget(target: string): string {
  return SPOOL_PREFIX + target;
}

/** The adapter a row is meant for: the spool's own target without its prefix, else the row's target. */
export function realTarget(rowTarget: string): string {
  return rowTarget.startsWith(SPOOL_PREFIX) ? rowTarget.slice(SPOOL_PREFIX.length) : rowTarget;
}

/** Spool row for a command; its result fields travel in meta, as for an adapter's inbox row. */
export function toSpoolRow(c: RoutedCommand): InboxPut {
  const meta = c.resultTopic
    ? {
        resultTopic: c.resultTopic,
        reportExpired: c.reportExpired === true,
        ...(c.correlationData !== undefined && { correlationData: c.correlationData }),
      }
    : undefined;
  return {
    target: spoolTarget(c.target),
    device: c.device,
    topic: c.topic,
    payload: c.payload,
    qos: c.qos,
    expiresAt: c.expiresAt ?? null,
    commandId: c.id,
    ...(meta && { meta }),
  };
}

/** The command an inbox row holds (spooled, or waiting in an adapter's inbox), with its result fields. */
export function fromInboxRow(row: InboxRow): RoutedCommand {
  const resultTopic = typeof row.meta?.resultTopic === 'string' ? row.meta.resultTopic : undefined;
  const command: RoutedCommand = {
    id: row.commandId ?? `inbox:${row.id}`,
    target: realTarget(row.target),
    device: row.device,
    topic: row.topic,
    payload: row.payload,
    qos: row.qos,
    ...(row.expiresAt !== null && { expiresAt: row.expiresAt }),
  };
  if (resultTopic) {
    command.resultTopic = resultTopic;
    command.reportExpired = row.meta?.reportExpired === true;
    if (typeof row.meta?.correlationData === 'string') command.correlationData = row.meta.correlationData;
  }
  return command;
}
