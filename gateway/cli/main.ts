import { Command as Cli } from 'commander';
import { version } from '../version.js';
import { addRemoteCommands } from './remote/commands.js';

// Each subcommand's module is imported when it runs: `run` does not load the serial port lister,
// the store inspector or the dry-run formatter, and `check` does not load the gateway.

const program = new Cli('fieldgate')
  .description('Field gateway: serial and MQTT-SN sensors to MQTT, with a durable SQLite outbox')
  .version(version(), '-V, --version')
  .showHelpAfterError();

program
  .command('run')
  .description('run the gateway until SIGTERM/SIGINT (SIGHUP reloads rules and live settings)')
  .requiredOption('-c, --config <file>', 'YAML config file')
  .option('-l, --log-level <level>', 'override gateway.log_level (fatal|error|warn|info|debug|trace)')
  .action(async (opts: { config: string; logLevel?: string }) => {
    // Exit explicitly: a library handle left open must not keep a stopped gateway alive under systemd.
    const { runCommand } = await import('./run.js');
    process.exit(await runCommand(opts.config, opts.logLevel));
  });

program
  .command('check')
  .description('validate a config file and print every problem with its key path and line')
  .requiredOption('-c, --config <file>', 'YAML config file')
  .action(async (opts: { config: string }) => {
    const [{ checkCommand }, { configChecks, configWarnings }] = await Promise.all([
      import('./check.js'),
      import('../config/checks.js'),
    ]);
    process.exitCode = checkCommand(opts.config, configChecks, configWarnings);
  });

program
  .command('ports')
  .description('list serial ports (works without udev: falls back to /dev/serial/by-id and /dev/tty*)')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    const { portsCommand } = await import('./ports.js');
    process.exitCode = await portsCommand(opts.json === true);
  });

program
  .command('version')
  .description('print the version')
  .action(() => console.log(version()));

program
  .command('rules')
  .description('work with rules')
  .command('test')
  .description(
    'dry-run a reading (or an upstream message with --upstream) through the rules; prints what would happen',
  )
  .requiredOption('-c, --config <file>', 'YAML config file')
  .option('--source <source>', 'reading source, e.g. serial:weather or mqttsn', 'mqttsn')
  .option('--device <id>', 'device id (default: from the topic or the source)')
  .requiredOption('--topic <topic>', 'topic of the reading, or of the upstream message with --upstream')
  .requiredOption('--payload <payload>', 'payload text')
  .option('--upstream', 'treat it as a message from the upstream broker (downlink/command rules)')
  .action(async (opts) => {
    const { rulesTestCommand } = await import('./rules-test.js');
    process.exitCode = await rulesTestCommand(opts);
  });

program
  .command('queue')
  .description('inspect or purge the outbox/inbox of a running or stopped gateway')
  .argument('<action>', 'stats | peek | purge | retry (set-aside rows back to the end of the outbox)')
  .requiredOption('-c, --config <file>', 'YAML config file (for state_dir)')
  .option('--inbox', 'peek/purge the inbox (commands waiting for devices) instead of the outbox')
  .option('--dead', 'peek/purge the rows set aside because the broker would not take them')
  .option('-n, --limit <n>', 'rows to peek', '20')
  .option('-y, --yes', 'purge without asking')
  .action(async (action: string, opts) => {
    const { queueCommand } = await import('./queue.js');
    process.exitCode = await queueCommand(action, opts);
  });

program
  .command('sessions')
  .description('list or purge the stored MQTT-SN device sessions (clean-session=false devices)')
  .argument('<action>', 'list | purge (the gateway must be stopped)')
  .requiredOption('-c, --config <file>', 'YAML config file (for state_dir)')
  .option('--id <clientId...>', 'purge these client ids')
  .option('--source <address>', 'purge every session last seen at this IP address')
  .option('--json', 'list as JSON lines')
  .option('-y, --yes', 'purge without asking')
  .action(async (action: string, opts) => {
    const { sessionsCommand } = await import('./sessions.js');
    process.exitCode = await sessionsCommand(action, opts);
  });

addRemoteCommands(program);

await program.parseAsync(process.argv);
