import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(cleanupTmpDirs);

/**
 * A stand-in checkout: the real systemd/ scripts, a tiny "built" app and a
 * node_modules with a production dep (with a nested dep), a scoped one and a
 * dev-only one, so npm's real dependency listing decides what is copied.
 * Building the real app here would typecheck code other people are editing.
 */
function fakeCheckout(): string {
  const src = join(tmpDir('fieldgate-src-'), 'src');
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(src, rel)), { recursive: true });
    writeFileSync(join(src, rel), text);
  };
  cpSync('systemd', join(src, 'systemd'), { recursive: true });
  write(
    'package.json',
    JSON.stringify({
      name: 'fieldgate',
      version: '9.9.9',
      type: 'module',
      dependencies: { prodpkg: '1.0.0', '@scope/dep': '1.0.0' },
      devDependencies: { devpkg: '1.0.0' },
    }),
  );
  write('README.md', '# fieldgate\n');
  write('docs/operations.md', '# Operations\n');
  write('bin/fieldgate.js', "import('../dist/gateway/cli/main.js');\n");
  write('dist/gateway/cli/main.js', "console.log('cli');\n");
  write(
    'node_modules/prodpkg/package.json',
    '{"name":"prodpkg","version":"1.0.0","dependencies":{"nested":"1.0.0"}}',
  );
  write('node_modules/prodpkg/index.js', 'export {};\n');
  write('node_modules/prodpkg/node_modules/nested/package.json', '{"name":"nested","version":"1.0.0"}');
  write('node_modules/@scope/dep/package.json', '{"name":"@scope/dep","version":"1.0.0"}');
  write('node_modules/devpkg/package.json', '{"name":"devpkg","version":"1.0.0"}');
  return src;
}

/** path -> mode + content hash, for every file and dir under root. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    if (st.isDirectory()) {
      out[`${rel}/`] = (st.mode & 0o7777).toString(8);
      for (const name of readdirSync(abs).sort()) walk(rel ? `${rel}/${name}` : name);
    } else {
      out[rel] =
        `${(st.mode & 0o7777).toString(8)} ${createHash('sha1').update(readFileSync(abs)).digest('hex')}`;
    }
  };
  walk('');
  return out;
}

function run(script: string, src: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync('bash', [join(src, 'systemd', script), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  if (r.status !== 0)
    throw new Error(`${script} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('install.sh / uninstall.sh into a --prefix', () => {
  let src: string;
  let root: string;
  beforeAll(() => {
    src = fakeCheckout();
    root = tmpDir('fieldgate-root-');
  });

  it('stages app, unit and config, and nothing else; no systemctl, no user', () => {
    const out = run('install.sh', src, ['--prefix', root]);
    expect(out).toContain('skipping user creation');
    expect(out).toContain('installed app');
    expect(out).not.toMatch(/systemctl daemon-reload|enabled and started/);
    const t = tree(root);
    expect(Object.keys(t).filter((p) => !p.endsWith('/'))).toEqual([
      'etc/fieldgate/fieldgate.yaml',
      'etc/systemd/system/fieldgate.service',
      'opt/fieldgate/README.md',
      'opt/fieldgate/bin/fieldgate.js',
      'opt/fieldgate/dist/gateway/cli/main.js',
      'opt/fieldgate/docs/operations.md',
      'opt/fieldgate/node_modules/@scope/dep/package.json',
      'opt/fieldgate/node_modules/prodpkg/index.js',
      'opt/fieldgate/node_modules/prodpkg/node_modules/nested/package.json',
      'opt/fieldgate/node_modules/prodpkg/package.json',
      'opt/fieldgate/package.json',
    ]);
    // Config is the example, private to root + the service group.
    expect(readFileSync(join(root, 'etc/fieldgate/fieldgate.yaml'), 'utf8')).toBe(
      readFileSync('systemd/fieldgate.example.yaml', 'utf8'),
    );
    expect(t['etc/fieldgate/fieldgate.yaml']!.split(' ')[0]).toBe('640');
    expect(t['etc/fieldgate/']).toBe('750');
    expect(t['etc/systemd/system/fieldgate.service']!.split(' ')[0]).toBe('644');
    // ExecStart points at the node that ran the install.
    const node = execFileSync('bash', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
    const installed = readFileSync(join(root, 'etc/systemd/system/fieldgate.service'), 'utf8');
    expect(installed).toMatch(
      new RegExp(
        `^ExecStart=${node} (--\\S+ )*/opt/fieldgate/bin/fieldgate.js run -c /etc/fieldgate/fieldgate.yaml$`,
        'm',
      ),
    );
    // Only the node path changes: the node flags (V8 heap sizes) and everything else are the source's.
    expect(installed).toBe(
      readFileSync('systemd/fieldgate.service', 'utf8').replace(
        'ExecStart=/usr/bin/node ',
        `ExecStart=${node} `,
      ),
    );
  });

  it('a second run changes nothing and keeps an edited config', () => {
    const cfg = join(root, 'etc/fieldgate/fieldgate.yaml');
    appendFileSync(cfg, '# edited by the operator\n');
    const before = tree(root);
    const out = run('install.sh', src, ['--prefix', root]);
    expect(out).toContain('app unchanged');
    expect(out).toContain('unit unchanged');
    expect(out).toContain('kept existing config');
    expect(out).toContain('nothing to do');
    expect(tree(root)).toEqual(before);
    expect(readFileSync(cfg, 'utf8')).toContain('# edited by the operator');
  });

  it('an update replaces the app, still keeping the config (DESTDIR form)', () => {
    writeFileSync(join(src, 'dist/gateway/cli/main.js'), "console.log('cli v2');\n");
    const out = run('install.sh', src, [], { DESTDIR: root });
    expect(out).toContain('installed app');
    expect(out).toContain('kept existing config');
    expect(readFileSync(join(root, 'opt/fieldgate/dist/gateway/cli/main.js'), 'utf8')).toContain('v2');
    expect(readFileSync(join(root, 'etc/fieldgate/fieldgate.yaml'), 'utf8')).toContain(
      '# edited by the operator',
    );
    expect(existsSync(join(root, 'opt/fieldgate.old'))).toBe(false);
    expect(existsSync(join(root, 'opt/fieldgate.new'))).toBe(false);
  });

  it('uninstall removes unit and app, keeps config and state; twice is a no-op', () => {
    mkdirSync(join(root, 'var/lib/fieldgate'), { recursive: true });
    writeFileSync(join(root, 'var/lib/fieldgate/fieldgate.db'), 'outbox');
    const out = run('uninstall.sh', src, ['--prefix', root]);
    expect(out).toContain('removed unit');
    expect(out).toContain('removed app');
    expect(out).toMatch(/kept .*etc\/fieldgate/);
    expect(existsSync(join(root, 'etc/systemd/system/fieldgate.service'))).toBe(false);
    expect(existsSync(join(root, 'opt/fieldgate'))).toBe(false);
    expect(readFileSync(join(root, 'etc/fieldgate/fieldgate.yaml'), 'utf8')).toContain(
      '# edited by the operator',
    );
    expect(existsSync(join(root, 'var/lib/fieldgate/fieldgate.db'))).toBe(true);
    expect(run('uninstall.sh', src, ['--prefix', root])).toContain('nothing to do');
  });

  it('uninstall --purge also removes config and state', () => {
    run('install.sh', src, ['--prefix', root]);
    const out = run('uninstall.sh', src, ['--prefix', root, '--purge']);
    expect(out).toContain('removed config');
    expect(existsSync(join(root, 'etc/fieldgate'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/fieldgate'))).toBe(false);
  });

  it('installed code is not writable by the checkout owner or anyone but its owner (root when run as root)', () => {
    const own = fakeCheckout();
    // A checkout cloned by another user with a group-writable umask, as `cp -p` used to carry over.
    execFileSync('chmod', ['-R', 'g+w,o+w', own]);
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', '1234:1234', own]);
    const dest = tmpDir('fieldgate-root-');
    run('install.sh', own, ['--prefix', dest]);
    const app = join(dest, 'opt/fieldgate');
    const files = execFileSync('find', [app], { encoding: 'utf8' }).trim().split('\n');
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const st = lstatSync(f);
      expect((st.mode & 0o022).toString(8), f).toBe('0');
      if (process.getuid?.() === 0) expect(st.uid, f).toBe(0);
    }
    expect(lstatSync(join(app, 'bin/fieldgate.js')).mode & 0o444).toBe(0o444);
  });

  it('writes nothing through a symlink planted next to its temporary directory', () => {
    // A local user watching a shared /tmp sees the random name of the staging dir appear and plants
    // a symlink at any name derived from it (the unit used to be written to "<dir>.unit"). A mktemp
    // shim on PATH plays that user, without a race: it plants links as soon as the dir exists.
    const shared = tmpDir('fieldgate-shared-tmp-');
    const victim = join(tmpDir('fieldgate-victim-'), 'victim');
    writeFileSync(victim, 'precious\n');
    const bin = tmpDir('fieldgate-shim-');
    const realMktemp = execFileSync('bash', ['-c', 'command -v mktemp'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(bin, 'mktemp'),
      [
        '#!/usr/bin/env bash',
        `d="$(${realMktemp} "$@")" || exit 1`,
        `for ext in unit service tmp new; do ln -s ${victim} "$d.$ext"; done`,
        'echo "$d"',
      ].join('\n'),
      { mode: 0o755 },
    );
    const dest = tmpDir('fieldgate-root-');
    run('install.sh', fakeCheckout(), ['--prefix', dest], {
      TMPDIR: shared,
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(join(dest, 'etc/systemd/system/fieldgate.service'), 'utf8')).toContain('[Service]');
    // The shim ran (links planted), and the private directory itself is gone afterwards.
    const left = readdirSync(shared);
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((n) => lstatSync(join(shared, n)).isSymbolicLink())).toBe(true);
  });

  it('refuses an unbuilt checkout with a clear message, writing nothing', () => {
    const bare = fakeCheckout();
    const target = tmpDir('fieldgate-root-');
    execFileSync('rm', ['-r', join(bare, 'dist')]);
    const r = spawnSync('bash', [join(bare, 'systemd/install.sh'), '--prefix', target], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('npm run build');
    expect(readdirSync(target)).toEqual([]);
  });
});
