/**
 * The one topic-name check every message passes before it is stored (MQTT 3.1.1 §1.5.3, §4.7).
 * A broker that refuses a topic drops the connection; the row would be sent first again on every
 * reconnect and stall all delivery behind it. So anything a broker may refuse stops here.
 * Empty levels (`a//b`, `/a`, `a/`) are valid MQTT and mosquitto accepts them: they pass.
 */
export type TopicProblem =
  | 'empty'
  | 'too_long' // over 65535 UTF-8 bytes
  | 'too_many_levels' // over MAX_TOPIC_LEVELS
  | 'invalid_utf8' // a lone surrogate in the JS string (from bytes that were not UTF-8)
  | 'null_char' // U+0000: forbidden by the spec
  | 'control_char' // U+0001-U+001F, U+007F-U+009F: mosquitto disconnects on these
  | 'noncharacter' // U+FDD0-U+FDEF, U+xFFFE/U+xFFFF: mosquitto disconnects on these too
  | 'wildcard' // + or # in a topic name
  | 'reserved'; // $SYS (the broker's own), $share/ and $queue/ (shared-subscription syntax, not a name)

/** Every problem, for metric labels and tests. */
export const TOPIC_PROBLEMS: readonly TopicProblem[] = [
  'empty',
  'too_long',
  'too_many_levels',
  'invalid_utf8',
  'null_char',
  'control_char',
  'noncharacter',
  'wildcard',
  'reserved',
];

/** For config errors and logs: what is wrong, in words. */
export const TOPIC_PROBLEM_TEXT: Record<TopicProblem, string> = {
  empty: 'is empty',
  too_long: `is longer than 65535 UTF-8 bytes`,
  too_many_levels: 'has more than 200 levels',
  invalid_utf8: 'is not valid UTF-8',
  null_char: 'contains U+0000',
  control_char: 'contains a control character (U+0001-U+001F, U+007F-U+009F)',
  noncharacter: 'contains a Unicode noncharacter (U+FFFE, U+FFFF, U+FDD0-U+FDEF, ...)',
  wildcard: 'contains a wildcard (+ or #), which a topic name may not',
  reserved: 'is reserved to the broker ($SYS) or is shared-subscription syntax ($share/, $queue/)',
};

export const MAX_TOPIC_BYTES = 65535;
/** mosquitto 2.0 disconnects a client publishing more than 201 levels; stay under it. */
export const MAX_TOPIC_LEVELS = 200;

const PLAIN = /^[\x20-\x22\x24-\x2a\x2c-\x7e]+$/; // printable ASCII without + and #

/**
 * Verdicts of recent topics: every message is checked (adapter, rules, ingest), and a site has few
 * distinct topics. Bounded in entries and in the length of what is kept, so a device inventing a topic
 * per message only costs the check itself (the map is cleared when full). '' = valid.
 */
const verdicts = new Map<string, TopicProblem | ''>();
const VERDICTS_MAX = 1024;
const VERDICT_MAX_LENGTH = 256;

/** Why `topic` cannot be published, or undefined when it can. */
export function topicNameProblem(topic: string): TopicProblem | undefined {
  if (topic.length > VERDICT_MAX_LENGTH) return checkTopicName(topic);
  const hit = verdicts.get(topic);
  if (hit !== undefined) return hit === '' ? undefined : hit;
  const problem = checkTopicName(topic);
  if (verdicts.size >= VERDICTS_MAX) verdicts.clear();
  verdicts.set(topic, problem ?? '');
  return problem;
}

/** Topics whose verdict is remembered now (tests: the cache stays bounded). */
export function rememberedTopicVerdicts(): number {
  return verdicts.size;
}

function checkTopicName(topic: string): TopicProblem | undefined {
  if (topic.length === 0) return 'empty';
  if (PLAIN.test(topic)) return shapeProblem(topic, topic.length);
  let bytes = 0;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = topic.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return 'invalid_utf8';
      cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return 'invalid_utf8';
    const p = codePointProblem(cp);
    if (p) return p;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return shapeProblem(topic, bytes);
}

export function isValidTopicName(topic: string): boolean {
  return topicNameProblem(topic) === undefined;
}

/**
 * Why `filter` cannot be subscribed to, or undefined when it can: the same characters and limits as a
 * name, with `+` only as a whole level and `#` only as the whole last level (MQTT 4.7.1). A filter the
 * broker refuses ends the gateway's connection (mosquitto: "malformed packet"), so a device's
 * SUBSCRIBE must never pass one on. Shared subscriptions (`$share/...`) are valid filters.
 */
export function topicFilterProblem(filter: string): TopicProblem | undefined {
  if (filter.length === 0) return 'empty';
  const levels = filter.split('/');
  if (levels.length > MAX_TOPIC_LEVELS) return 'too_many_levels';
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l === '+' || (l === '#' && i === levels.length - 1)) continue;
    if (l.includes('+') || l.includes('#')) return 'wildcard';
  }
  // The wildcards are where they may be: check the characters and the length as for a name.
  const problem = topicNameProblem(filter.replace(/[+#]/g, 'x'));
  return problem === 'reserved' || problem === 'too_many_levels' ? undefined : problem;
}

function codePointProblem(cp: number): TopicProblem | undefined {
  if (cp === 0) return 'null_char';
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return 'control_char';
  if (cp === 0x2b || cp === 0x23) return 'wildcard';
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return 'noncharacter';
  return undefined;
}

/**
 * Brokers deny these to clients without an error a QoS 0/1 publisher could see (mosquitto answers
 * PUBACK and drops it): refused here, where the drop is counted. Other `$` topics (e.g. AWS IoT's
 * `$aws/...`) are the broker's to allow.
 */
const RESERVED = /^(\$SYS($|\/)|\$share\/|\$queue\/)/;

function shapeProblem(topic: string, bytes: number): TopicProblem | undefined {
  if (bytes > MAX_TOPIC_BYTES) return 'too_long';
  if (topic.charCodeAt(0) === 0x24 && RESERVED.test(topic)) return 'reserved';
  let slashes = 0;
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) {
    if (++slashes >= MAX_TOPIC_LEVELS) return 'too_many_levels';
  }
  return undefined;
}

/** A topic as it may appear in a log line: bounded (a topic may be 64 KiB). */
export function topicPreview(topic: string, max = 200): string {
  return topic.length > max ? `${topic.slice(0, max)}… (${topic.length} chars)` : topic;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes from a device as text, or undefined when they are not UTF-8. `buf.toString('utf8')` would
 * turn bad bytes into U+FFFD silently: a different, valid-looking topic. A BOM is kept, not eaten.
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Does the MQTT topic filter match the topic name (§4.7.1; a leading wildcard does not match `$` topics)? */
export function filterMatches(filter: string, topic: string): boolean {
  return levelsMatch(filter.split('/'), topic.split('/'), topic);
}

/** As filterMatches, with both already split at '/' (for matching one topic against many filters). */
export function levelsMatch(f: readonly string[], t: readonly string[], topic: string): boolean {
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
