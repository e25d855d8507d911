import { adapterKinds } from '../../adapters/registry.js';
import { compileRules, RulesCompileError } from '../../rules/index.js';
import type { SemanticCheck } from './load.js';
import type { Config } from './schema.js';
import { sparkplugSourcesExist } from '../sparkplug/sources.js';

/** Rules compile at load (JSONata syntax, templates, patterns): `check` and `run` both report their lines. */
const rulesCompile: SemanticCheck = (config) => {
  try {
    compileRules(config, { gatewayId: config.gateway?.id ?? 'gateway' });
    return [];
  } catch (err) {
    if (err instanceof RulesCompileError) return err.problems;
    throw err;
  }
};

/** Command/trigger targets must name an adapter that exists. */
const targetsExist: SemanticCheck = (config) => {
  // Only meaningful when the sections it compares are valid themselves.
  const sections = adapterKinds.map((kind) => ({ kind, section: sectionOf(config, kind.key) }));
  if (sections.some((s) => s.section === undefined) || !config.commands || !config.triggers) return [];
  const known = new Set(sections.flatMap(({ kind, section }) => kind.targets(section)));
  const problems: ReturnType<SemanticCheck> = [];
  for (const [section, rules] of [
    ['commands', config.commands],
    ['triggers', config.triggers],
  ] as const) {
    rules.forEach((rule, i) => {
      if (!known.has(rule.to)) {
        const list = [...known].join(', ') || 'none configured';
        problems.push({ path: [section, i, 'to'], message: `unknown target "${rule.to}" (known: ${list})` });
      }
    });
  }
  return problems;
};

/** Each adapter section's own cross-entry checks (duplicate names), with its key in front of the paths. */
const adapterSections: SemanticCheck = (config) =>
  adapterKinds.flatMap((kind) => {
    const section = sectionOf(config, kind.key);
    if (section === undefined || !kind.check) return [];
    return kind.check(section).map((p) => ({ path: [kind.key, ...p.path], message: p.message }));
  });

/** A tls block only applies to mqtts:// URLs: with mqtt:// it would be silently ignored (plain TCP). */
const tlsNeedsMqtts: SemanticCheck = (config) => {
  const up = config.upstream;
  const urls = typeof up?.url === 'string' ? [up.url] : (up?.url ?? []);
  if (!up?.tls || !urls.some((u) => u.startsWith('mqtt://'))) return [];
  return [
    {
      path: ['upstream', 'tls'],
      message: 'a tls block with an mqtt:// url would be ignored (plain TCP): use mqtts:// or remove tls',
    },
  ];
};

/**
 * client_id "" asks the broker to assign an id, which only MQTT 5 reports back: with 3.1.1 every
 * connection would be a fresh session (clean session forced), so QoS 1/2 commands in flight are lost.
 */
const emptyClientIdNeedsMqtt5: SemanticCheck = (config) => {
  const up = config.upstream;
  if (up?.client_id !== '' || up.protocol !== '3.1.1') return [];
  return [
    {
      path: ['upstream', 'client_id'],
      message:
        'an empty client_id needs protocol 5 (the broker assigns one); with 3.1.1 no session could persist: set a client_id',
    },
  ];
};

/** Two adapter instances cannot share one device file (a Modbus bus on a port a `serial:` entry opens). */
const deviceFilesFree: SemanticCheck = (config) => {
  const taken = new Map<string, string>();
  const problems: ReturnType<SemanticCheck> = [];
  for (const kind of adapterKinds) {
    const section = sectionOf(config, kind.key);
    if (section === undefined || !kind.opens) continue;
    for (const o of kind.opens(section)) {
      const other = taken.get(o.file);
      if (other)
        problems.push({ path: [kind.key, ...o.path], message: `${o.file} is already used by ${other}` });
      else taken.set(o.file, o.owner);
    }
  }
  return problems;
};

function sectionOf(config: Partial<Config>, key: string): unknown {
  return config[key as keyof Config];
}

export const configChecks: SemanticCheck[] = [
  rulesCompile,
  targetsExist,
  adapterSections,
  tlsNeedsMqtts,
  emptyClientIdNeedsMqtt5,
  deviceFilesFree,
  sparkplugSourcesExist,
];

/**
 * Devices may subscribe without an acl (opt-in): each device subscription is one the gateway makes
 * upstream with its own broker account, so a device reads whatever that account may read.
 */
const openSubscriptionsWithoutAcl: SemanticCheck = (config) => {
  const sn = config.mqttsn;
  if (!sn?.enabled || !sn.open_subscriptions || sn.acl) return [];
  return [
    {
      path: ['mqttsn', 'open_subscriptions'],
      message:
        "on without an acl: any device may subscribe to whatever the gateway's broker account can read (except $-topics and the gateway's own); add mqttsn.acl",
    },
  ];
};

/** Not errors: `check` prints them and `run` logs them, and the config still loads. */
export const configWarnings: SemanticCheck[] = [openSubscriptionsWithoutAcl];
