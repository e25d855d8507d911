import { compileRules, RulesCompileError } from '../../rules/index.js';
import type { SemanticCheck } from './load.js';

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
  if (!config.serial || !config.mqttsn || !config.commands || !config.triggers) return [];
  const known = new Set(config.serial.map((p) => `serial:${p.name}`));
  if (config.mqttsn.enabled) known.add('mqttsn');
  for (const bus of config.modbus ?? []) known.add(`modbus:${bus.name}`);
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
  const names = new Set<string>();
  config.serial?.forEach((p, i) => {
    if (names.has(p.name))
      problems.push({ path: ['serial', i, 'name'], message: `duplicate serial port name "${p.name}"` });
    names.add(p.name);
  });
  const buses = new Set<string>();
  config.modbus?.forEach((b, i) => {
    if (buses.has(b.name))
      problems.push({ path: ['modbus', i, 'name'], message: `duplicate modbus bus name "${b.name}"` });
    buses.add(b.name);
  });
  return problems;
};

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

/** Two adapters cannot share one serial port: a Modbus bus on a port a `serial:` entry also opens. */
const modbusPortsFree: SemanticCheck = (config) => {
  const taken = new Map((config.serial ?? []).map((p) => [p.path, `serial port "${p.name}"`]));
  const problems: ReturnType<SemanticCheck> = [];
  config.modbus?.forEach((b, i) => {
    if (b.path === undefined) return;
    const other = taken.get(b.path);
    if (other)
      problems.push({ path: ['modbus', i, 'path'], message: `${b.path} is already used by ${other}` });
    taken.set(b.path, `modbus bus "${b.name}"`);
  });
  return problems;
};

export const configChecks: SemanticCheck[] = [
  rulesCompile,
  targetsExist,
  tlsNeedsMqtts,
  emptyClientIdNeedsMqtt5,
  modbusPortsFree,
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
