import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { loadTrustedKeys } from '../common/keys.js';
import { verifyToken } from '../common/tokens/index.js';
import { hopscopeCli, smallConfig } from './helpers/cli.js';

const cli = hopscopeCli;
let dir: string;

const config = smallConfig;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hopscope-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hopscope token issue', () => {
  it('prints only a token on stdout, creating the key with 0600 permissions on first use', async () => {
    await writeFile(join(dir, 'ok.yml'), config());
    const res = await cli('token', 'issue', '--config', join(dir, 'ok.yml'), '--identity', 'ci', '--ttl', '90s');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^hs1\.[\w-]+\.[\w-]+\n$/);
    const claims = verifyToken(res.stdout.trim(), loadTrustedKeys([join(dir, 'keys')]), systemClock, 'ci');
    expect(claims.exp - claims.iat).toBe(90);
    expect((await stat(join(dir, 'keys', 'gateway_ed25519'))).mode & 0o777).toBe(0o600);
  });

  it('refuses an unknown identity and a lifetime over the maximum, with a sentence and a non-zero exit', async () => {
    const unknown = await cli('token', 'issue', '--config', join(dir, 'ok.yml'), '--identity', 'mallory');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('hopscope: unknown identity mallory (configured: ci)\n');
    const long = await cli('token', 'issue', '--config', join(dir, 'ok.yml'), '--identity', 'ci', '--ttl', '30d');
    expect(long.stderr).toMatch(/exceeds tokens.maxTtl \(24h\)/);
    const missing = await cli('token', 'issue', '--config', join(dir, 'nope.yml'), '--identity', 'ci');
    expect(missing.stderr).toMatch(/config file not found/);
  });
});

describe('hopscope usage errors', () => {
  it('exits 2 with a sentence on an unknown command, an unknown option and a missing required option; 0 on --help', async () => {
    const unknown = await cli('nosuch');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'nosuch'/);
    const option = await cli('verify', '--frobnicate', dir);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/unknown option '--frobnicate'/);
    const missing = await cli('token', 'issue', '--identity', 'ci');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--config/);
    const help = await cli('import', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--db/);
  });
});

describe('hopscope gateway', () => {
  it('does not start with a rule that does not compile, and says which file, rule and problem', async () => {
    await writeFile(join(dir, 'bad.yml'), config(`guardrails:\n  - { name: no-drop, sql: { statements: [DropTable] }, action: block }`));
    const res = await cli('gateway', '--config', join(dir, 'bad.yml'));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${join(dir, 'bad.yml')}: guardrail no-drop: unknown statement type DropTable`);
  });

  it('rejects an invalid configuration with every problem listed', async () => {
    await writeFile(join(dir, 'invalid.yml'), 'recording: { fsync: sometimes }\nkeys: {}\nlisteners: {}\n');
    const res = await cli('gateway', '--config', join(dir, 'invalid.yml'));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/recording.dir/);
    expect(res.stderr).toMatch(/recording.fsync/);
    expect(res.stderr).toMatch(/keys.dir/);
  });
});
