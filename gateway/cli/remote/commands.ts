import type { Command } from 'commander';
import type { Admin } from './admin.js';
import type { RemoteFlags } from './settings.js';

// Declarations only: each command's module (and MQTT.js) is imported when it runs.

/** `fieldgate remote …`: manage gateways over the broker (docs/remote-management.md). */
export function addRemoteCommands(program: Command): void {
  const remote = program
    .command('remote')
    .description('manage gateways over the broker: list, status, config get/set, logs, restart, ping')
    .option(
      '-c, --config <file>',
      'operator file: upstream: (url, username, password_file, tls) and remote: (prefix, actor, timeout)',
    )
    .option('--url <url>', "broker URL, mqtt:// or mqtts:// (repeat for a cluster's nodes)", collect)
    .option('--username <name>', 'broker user name')
    .option('--password-file <file>', 'file holding the broker password (or FIELDGATE_REMOTE_PASSWORD)')
    .option('--ca <file>', 'CA certificate for mqtts://')
    .option('--prefix <prefix>', 'topic prefix (remote.prefix on the gateways, default fieldgate)')
    .option('--actor <name>', "your name in the gateways' audit trail (default user@host)")
    .option('--timeout <duration>', 'how long to wait for an answer (default 10s)');

  const run = (cmd: Command, gateway: string | undefined, fn: (admin: Admin) => Promise<number>) =>
    import('./admin.js').then(async ({ withAdmin }) => {
      process.exitCode = await withAdmin(cmd.optsWithGlobals() as RemoteFlags, gateway, fn);
    });

  remote
    .command('list')
    .description("every gateway's retained info as a table")
    .option('--json', 'one JSON line per gateway')
    .option(
      '--stale-after <duration>',
      'info older than this shows as "silent" (default: 3 × the gateway\'s remote.info_interval)',
    )
    .action(async (opts: { json?: boolean; staleAfter?: string }, cmd: Command) => {
      const [{ listCommand }, { parseDuration }] = await Promise.all([
        import('./list.js'),
        import('../../../contracts/units.js'),
      ]);
      const staleAfterMs = opts.staleAfter === undefined ? undefined : parseDuration(opts.staleAfter);
      if (opts.staleAfter !== undefined && staleAfterMs === undefined) {
        console.error('fieldgate remote list: --stale-after takes a duration like 15m');
        process.exitCode = 1;
        return;
      }
      await run(cmd, undefined, (a) => listCommand(a, { json: opts.json === true, staleAfterMs }));
    });

  remote
    .command('status')
    .description("one gateway's info (asked live; its last retained info if it does not answer)")
    .argument('<gateway>')
    .option('--json', 'print JSON')
    .action(async (gateway: string, opts: { json?: boolean }, cmd: Command) => {
      const { statusCommand } = await import('./status.js');
      await run(cmd, gateway, (a) => statusCommand(a, gateway, opts));
    });

  const config = remote.command('config').description("a gateway's running config");
  config
    .command('get')
    .description('print the running config (secrets redacted): config get GW > f.yaml')
    .argument('<gateway>')
    .action(async (gateway: string, _opts: unknown, cmd: Command) => {
      const { configGetCommand } = await import('./config-get.js');
      await run(cmd, gateway, (a) => configGetCommand(a, gateway));
    });
  config
    .command('set')
    .description('validate, show the diff, send, and follow the change to confirmed, refused or rolled back')
    .argument('<gateway>')
    .argument('[file]', 'the whole YAML config')
    .option('--patch <file.json>', 'a JSON merge patch on the running config instead of a whole file')
    .option('--dry-run', 'the gateway validates it and changes nothing')
    .option('--force', "overwrite even if the gateway's config changed since the file was fetched")
    .action(
      async (
        gateway: string,
        file: string | undefined,
        opts: { dryRun?: boolean; force?: boolean; patch?: string },
        cmd: Command,
      ) => {
        const [{ configSetCommand }, { configChecks }] = await Promise.all([
          import('./config-set.js'),
          import('../../config/checks.js'),
        ]);
        await run(cmd, gateway, (a) => configSetCommand(a, gateway, file, opts, configChecks));
      },
    );

  remote
    .command('logs')
    .description("the gateway's recent log events; -f follows until Ctrl-C")
    .argument('<gateway>')
    .option('-n, --lines <n>', 'how many events (at most 1000)', '100')
    .option('--level <level>', 'least level (info, warn, error…)')
    .option('-f, --follow', 'keep asking for new events')
    .option('--interval <duration>', 'between polls with -f', '2s')
    .action(
      async (
        gateway: string,
        opts: { lines: string; level?: string; follow?: boolean; interval: string },
        cmd: Command,
      ) => {
        const [{ logsCommand }, { parseDuration }] = await Promise.all([
          import('./logs.js'),
          import('../../../contracts/units.js'),
        ]);
        const lines = Number(opts.lines);
        const intervalMs = parseDuration(opts.interval);
        if (!Number.isInteger(lines) || lines < 1 || intervalMs === undefined || intervalMs <= 0) {
          console.error(
            'fieldgate remote logs: --lines must be a whole number ≥ 1 and --interval a duration like 2s',
          );
          process.exitCode = 1;
          return;
        }
        await run(cmd, gateway, (a) =>
          logsCommand(a, gateway, {
            lines,
            intervalMs,
            follow: opts.follow === true,
            ...(opts.level && { level: opts.level }),
          }),
        );
      },
    );

  remote
    .command('restart')
    .description('restart the gateway cleanly (it answers first)')
    .argument('<gateway>')
    .action(async (gateway: string, _opts: unknown, cmd: Command) => {
      const { restartCommand } = await import('./actions.js');
      await run(cmd, gateway, (a) => restartCommand(a, gateway));
    });

  remote
    .command('request')
    .description('any request of the wire contract, e.g. request GW queue/purge-dead \'{"count": 3}\'')
    .argument('<gateway>')
    .argument('<request>', 'rules/reload, queue/retry, queue/purge-dead, log_level/set, …')
    .argument('[json]', 'its arguments as a JSON object')
    .action(
      async (gateway: string, request: string, json: string | undefined, _opts: unknown, cmd: Command) => {
        const { requestCommand } = await import('./actions.js');
        await run(cmd, gateway, (a) => requestCommand(a, gateway, request, json));
      },
    );

  remote
    .command('ping')
    .description('ask the gateway to answer; prints the round trip')
    .argument('<gateway>')
    .action(async (gateway: string, _opts: unknown, cmd: Command) => {
      const { pingCommand } = await import('./actions.js');
      await run(cmd, gateway, (a) => pingCommand(a, gateway));
    });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
