import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CommandExpiredError as ModbusExpired } from '../../adapters/modbus/commands.js';
import { CommandExpiredError as SerialExpired } from '../../adapters/serial/commands.js';
import { type Adapter, type Command, CommandExpiredError } from '../../adapters/types.js';
import type { Inbox, Outbox } from '../../contracts/store.js';
import { Downlink } from '../../gateway/downlink/router.js';
import type { CommandOutcome, RuleEngine } from '../../rules/index.js';

/** The outcome of a command whose send() rejected comes from the error's type, not its wording. */
describe('outcome of a command an adapter refused', () => {
  function outcomeOf(err: Error): Promise<CommandOutcome> {
    const adapter = {
      name: 'a',
      send: () => Promise.reject(err),
    } as unknown as Adapter;
    const seen: CommandOutcome[] = [];
    const downlink = new Downlink({
      adapters: new Map([['a', adapter]]),
      // No result rule: only the outcome matters here.
      rules: () => ({ commandResult: () => undefined }) as unknown as RuleEngine,
      outbox: {} as Outbox,
      inbox: {} as Inbox,
      logger: pino({ level: 'silent' }),
      onCommand: (_c, o) => seen.push(o),
    });
    const command: Command = {
      id: 'c1',
      target: 'a',
      device: 'd',
      topic: 't',
      payload: Buffer.from('x'),
      qos: 1,
    };
    return downlink.dispatch(command).then((o) => {
      expect(seen).toEqual([o]);
      return o;
    });
  }

  it('CommandExpiredError is reported as expired', async () => {
    expect(await outcomeOf(new CommandExpiredError('command c1 expired'))).toBe('expired');
  });

  it('any other error is rejected, whatever its text says', async () => {
    expect(await outcomeOf(new Error('device said: token expired'))).toBe('rejected');
  });

  it('the serial and Modbus adapters throw the shared type', () => {
    expect(new SerialExpired('x')).toBeInstanceOf(CommandExpiredError);
    expect(new ModbusExpired('x')).toBeInstanceOf(CommandExpiredError);
  });
});
