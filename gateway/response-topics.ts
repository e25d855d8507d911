import { filterMatches, isValidTopicName } from '../contracts/topic.js';

/**
 * MQTT 5 request/response: a command's Response Topic is chosen by whoever published the command,
 * yet its result is published with the gateway's broker rights. Unscreened, any broker client could
 * make the gateway publish on another gateway's command topics or overwrite its own status. So a
 * Response Topic must lie under `upstream.response_topics` and must not be one of the gateway's own
 * topics (the loop guard's list). Returns why one is refused, or undefined.
 */
export function responseTopicScreen(
  allowed: () => { filters: readonly string[]; gateway: string },
  isOwnTopic: (topic: string) => boolean,
): (topic: string) => 'invalid_topic' | 'response_topic' | 'loop_guard' | undefined {
  return (topic) => {
    if (!isValidTopicName(topic)) return 'invalid_topic'; // wildcards, NUL, too long
    const { filters, gateway } = allowed();
    if (!filters.some((f) => filterMatches(f.replaceAll('{gateway}', gateway), topic)))
      return 'response_topic';
    return isOwnTopic(topic) ? 'loop_guard' : undefined;
  };
}
