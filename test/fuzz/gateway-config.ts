import { FUZZ_GATEWAY_ID, PREDEFINED } from './fields.js';

/**
 * The gateway under fuzz: MQTT-SN on with QoS -1 on (so that path is fuzzed too), predefined topic
 * ids, a command rule (downlink retries and the sleeping-device inbox get traffic), short downlink
 * retries, /metrics on for the report. Where a merged default refuses what the clean devices do
 * (`legit/<client id>`, QoS 1), allow it here.
 */
export function fuzzGatewayConfig(o: {
  brokerUrl: string;
  udpPort: number;
  httpPort: number;
  stateDir: string;
}): string {
  return `gateway: { id: ${FUZZ_GATEWAY_ID}, state_dir: ${o.stateDir}, stop_grace: 5s }
upstream: { url: "${o.brokerUrl}", reconnect: { min: 100ms, max: 500ms } }
mqttsn:
  enabled: true
  listen: "127.0.0.1:${o.udpPort}"
  predefined_topics: ${JSON.stringify(PREDEFINED)}
  qos_minus_one: { enabled: true }
  retry_interval: 500ms
  retry_count: 2
rules:
  - match: legit/#
    qos: 1
commands:
  - subscribe: cmd/${FUZZ_GATEWAY_ID}/+device
    to: mqttsn
    topic: cmd
    ttl: 5s
http: { enabled: true, listen: "127.0.0.1:${o.httpPort}" }
`;
}
