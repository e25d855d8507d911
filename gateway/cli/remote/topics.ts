import { AdminTopics } from '../../remote/topics.js';

/** The admin topics the operator uses: the gateway's own layout (gateway/remote/topics.ts). */

export function requestTopic(prefix: string, gateway: string, request: string): string {
  return new AdminTopics(prefix, gateway).request(request);
}

/** Answers for this CLI run: under the gateway's reply prefix, named for the run so runs do not mix. */
export function replyTopic(prefix: string, gateway: string, run: string): string {
  return new AdminTopics(prefix, gateway).reply(run);
}

export function infoTopic(prefix: string, gateway: string): string {
  return new AdminTopics(prefix, gateway).info;
}

export function changeTopic(prefix: string, gateway: string): string {
  return new AdminTopics(prefix, gateway).change;
}

/** Every gateway's info: `<prefix>/+/admin/info`. */
export function allInfoFilter(prefix: string): string {
  return `${prefix}/+/admin/info`;
}

/** The gateway id in an info topic, or undefined when the topic is not one. */
export function gatewayOfInfoTopic(prefix: string, topic: string): string | undefined {
  const head = `${prefix}/`;
  const tail = '/admin/info';
  if (!topic.startsWith(head) || !topic.endsWith(tail)) return undefined;
  const id = topic.slice(head.length, topic.length - tail.length);
  return id && !id.includes('/') ? id : undefined;
}

/** A gateway id as it may appear in a topic (gateway.id's own rule). */
export function isGatewayId(id: string): boolean {
  return /^[A-Za-z0-9_.-]+$/.test(id);
}
