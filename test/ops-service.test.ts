import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { run } from './helpers/processes.js';

const UNIT = 'build/hopscope-gateway.service';
const analyze = await run('systemd-analyze', ['--version']).then((r) => r.code === 0, () => false);

/** The unit's [Service] settings: name → every value given (a key may repeat). */
function serviceSettings(): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(UNIT, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

describe('the systemd unit', () => {
  it('runs as a dedicated user with the usual hardening, writes only recordings and keys, reloads on SIGHUP', () => {
    const s = serviceSettings();
    const one = (key: string) => s.get(key)?.at(-1);
    expect(one('User')).toBe('hopscope');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe(''); // listeners on ports >= 1024: no capability at all
    expect(one('AmbientCapabilities')).toBe('');
    expect(one('Restart')).toBe('on-failure');
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('ReadWritePaths')!.split(/\s+/).sort()).toEqual(['/var/lib/hopscope/keys', '/var/lib/hopscope/recordings']);
    expect(one('ExecStartPre')).toMatch(/ gateway --config \S+ --check$/);
    expect(one('ExecStart')).toMatch(/ gateway --config \S+$/);
    expect(s.has('MemoryDenyWriteExecute')).toBe(false); // V8's JIT needs it off
  });

  it.skipIf(!analyze)('passes systemd-analyze verify without a warning, and its offline security exposure is at most 2.0', async () => {
    const verify = await run('systemd-analyze', ['verify', `${process.cwd()}/${UNIT}`], { cwd: tmpdir() });
    expect(verify.stderr + verify.stdout).toBe('');
    expect(verify.code).toBe(0);
    const security = await run('systemd-analyze', ['security', '--offline=true', '--threshold=20', `${process.cwd()}/${UNIT}`], { cwd: tmpdir() });
    expect(security.stdout).toMatch(/Overall exposure level for hopscope-gateway.service: [01]\.\d|Overall exposure level for hopscope-gateway.service: 2\.0/);
    expect(security.code).toBe(0);
  });
});
