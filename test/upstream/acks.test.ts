import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../contracts/store.js';
import {
  ackAction,
  DELIVERED,
  IGNORE,
  PUBCOMP_FAILED,
  PUBREL_AGAIN,
  REFUSED,
  RELEASE,
  TAKEN_AT_QOS1,
} from '../../gateway/upstream/acks.js';
import { BrokerFit } from '../../gateway/upstream/broker-fit.js';
import { NO_LIMITS } from '../../gateway/upstream/broker-limits.js';
import { RELEASED, SENT } from '../../gateway/upstream/inflight-window.js';

describe('ackAction (pure: what an ack means for the row in flight)', () => {
  it('the success path of QoS 1 and QoS 2', () => {
    expect(ackAction('puback', 1, SENT, 0)).toBe(DELIVERED);
    expect(ackAction('puback', 1, SENT, 0x10)).toBe(DELIVERED); // no matching subscribers
    expect(ackAction('pubrec', 2, SENT, 0)).toBe(RELEASE);
    expect(ackAction('pubrec', 2, RELEASED, 0)).toBe(PUBREL_AGAIN);
    expect(ackAction('pubcomp', 2, RELEASED, 0)).toBe(DELIVERED);
    expect(ackAction('pubcomp', 2, RELEASED, 0x92)).toBe(DELIVERED); // the broker finished it already
  });

  it('a failure reason code is not a delivery', () => {
    expect(ackAction('puback', 1, SENT, 0x97)).toBe(REFUSED);
    expect(ackAction('pubrec', 2, SENT, 0x87)).toBe(REFUSED);
    expect(ackAction('puback', 1, SENT, 0x95)).toBe(REFUSED); // off the spec's list for PUBACK
    expect(ackAction('pubcomp', 2, RELEASED, 0x80)).toBe(PUBCOMP_FAILED);
  });

  it('PUBACK for a QoS 2 PUBLISH: taken at QoS 1', () => {
    expect(ackAction('puback', 2, SENT, 0)).toBe(TAKEN_AT_QOS1);
  });

  it('an ack that does not fit the row is ignored', () => {
    expect(ackAction('pubrec', 1, SENT, 0)).toBe(IGNORE);
    expect(ackAction('pubcomp', 1, SENT, 0)).toBe(IGNORE);
    expect(ackAction('pubcomp', 2, SENT, 0)).toBe(IGNORE); // PUBCOMP before PUBREC
    expect(ackAction('puback', 2, RELEASED, 0)).toBe(IGNORE);
    expect(ackAction('pubcomp', 2, SENT, 0x80)).toBe(IGNORE);
  });
});

const row = (qos: 0 | 1 | 2, retain = false): OutboxRow => ({
  id: 1,
  source: 'mqttsn',
  device: 'd',
  topic: 't/d',
  payload: Buffer.from('x'),
  qos,
  retain,
  receivedAt: 0,
  state: 'queued',
  packetId: null,
});

describe('BrokerFit (pure: a row as the broker takes it)', () => {
  const logger = pino({ level: 'silent' });

  it('a row that fits is the same object: no copy per row', () => {
    const fit = new BrokerFit();
    const r = row(2, true);
    expect(fit.fit(r)).toBe(r);
  });

  it('Maximum QoS 1 lowers a QoS 2 row (a copy, remembered as lowered); no Retain Available clears retain', () => {
    const fit = new BrokerFit();
    fit.attach({ ...NO_LIMITS, maximumQoS: 1, retainAvailable: false }, logger);
    const r = row(2, true);
    const out = fit.fit(r);
    expect(out).not.toBe(r);
    expect(out).toMatchObject({ qos: 1, retain: false });
    expect(r).toMatchObject({ qos: 2, retain: true });
    expect(fit.wasLowered(out)).toBe(true);
    expect(fit.wasLowered(r)).toBe(false);
    fit.attach(NO_LIMITS, logger); // a new connection forgets
    expect(fit.wasLowered(out)).toBe(false);
  });
});
