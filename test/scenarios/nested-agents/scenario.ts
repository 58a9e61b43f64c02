import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { libpqEnv, run, spawnLong, type LongRunning } from '../../helpers/processes.js';
import { sshClientOf } from '../../helpers/sshd.js';
import { DECISIONS, writeAgent } from './agent.js';
import { startEnvironment, type Environment } from './environment.js';

export interface ScenarioResult {
  /** The recordings folder (`<out>/recordings`) and the key that verifies them. */
  recordingsDir: string;
  publicKeyPath: string;
  /** contractor-ci → build-host, the session at the root of the chain. */
  rootSession: string;
  /** What the CLI printed when it revoked contractor-ci, and the sessions it cut. */
  revokeOutput: string;
  sessionsCut: string[];
  /** Approval ids as decided by alice at the CLI. */
  decided: Array<{ id: string; operation: string; decision: 'approve' | 'deny' }>;
  /** The outer ssh client's combined output (what the CI job's log would show). */
  transcript: string;
  /** The refusal a fresh connection with contractor-ci's token got after the revocation. */
  refusedAfterRevoke: string;
}

interface LiveSessionInfo { id: string; parent?: string; identity: string; target: string; protocol: string }
interface Pending { id: string; operation: string }

/**
 * Runs the nested-agents incident end to end and leaves its sealed recordings
 * in `<out>/recordings` with the gateway's public key in `<out>/gateway_ed25519.pub`.
 */
export async function runNestedAgents(opts: { out: string; log?: (line: string) => void }): Promise<ScenarioResult> {
  const log = opts.log ?? (() => undefined);
  const env = await startEnvironment(opts.out);
  let outer: LongRunning | undefined;
  try {
    const pgPort = env.gateway.postgres!.port;
    const sshPort = env.gateway.ssh!.port;
    const ciToken = await issue(env, 'contractor-ci');
    const aliceToken = await issue(env, 'alice');
    const command = await writeAgent(env.work, { pg: pgPort, ssh: sshPort });

    log('contractor-ci opens an SSH session to build-host through the gateway');
    const client = await sshClientOf(env.work, ciToken);
    outer = spawnLong('ssh', ['-F', '/dev/null', ...client.options, '-p', String(sshPort), 'contractor-ci:build-host@127.0.0.1', command], { env: client.env });
    const rootSession = await until(async () => (await live(env)).find((s) => s.identity === 'contractor-ci' && s.target === 'build-host' && !s.parent)?.id, 30_000);

    log('alice decides the held statements at the CLI (one is left to time out)');
    const decided = await approve(env, aliceToken, outer);

    log('waiting for the long-running children (a psql and a second SSH hop)');
    await outer.waitForOutput(/watcher on deploy-host: tick 0/, 60_000);
    await until(async () => {
      const children = (await live(env)).filter((s) => s.parent === rootSession);
      return children.some((s) => s.protocol === 'postgres') && children.some((s) => s.protocol === 'ssh') ? true : undefined;
    }, 30_000);
    await sleep(500); // a few ticks of the watcher in the recording

    log('contractor-ci is revoked mid-session');
    const revoked = await env.cli('token', 'revoke', '--config', env.configPath, '--identity', 'contractor-ci');
    if (revoked.code !== 0) throw new Error(`token revoke failed: ${revoked.stderr}`);
    const sessionsCut = /cut: (.*)$/m.exec(revoked.stdout)?.[1]?.split(', ') ?? [];
    await Promise.race([outer.exited, sleep(20_000).then(() => { throw new Error(`the outer ssh did not end after the revocation:\n${outer!.output()}`); })]);

    log('the same token is refused afterwards');
    const again = await run('psql', ['-X', '-c', 'SELECT 1'], {
      env: libpqEnv({ host: '127.0.0.1', port: pgPort, user: 'contractor-ci', password: ciToken, database: 'prod-db' }),
    });
    await until(async () => ((await live(env)).length === 0 ? true : undefined), 20_000);
    const transcript = outer.output();
    await writeFile(join(opts.out, 'transcript.txt'), transcript);
    return {
      recordingsDir: env.recordingsDir, publicKeyPath: join(opts.out, 'gateway_ed25519.pub'), rootSession,
      revokeOutput: revoked.stdout, sessionsCut, decided, transcript, refusedAfterRevoke: again.stderr,
    };
  } finally {
    await outer?.stop();
    log('stopping the gateway (sealing every recording) and the servers');
    await env.stop();
  }
}

async function issue(env: Environment, identity: string): Promise<string> {
  const res = await env.cli('token', 'issue', '--config', env.configPath, '--identity', identity, '--ttl', '15m');
  if (res.code !== 0) throw new Error(`token issue --identity ${identity} failed: ${res.stderr}`);
  return res.stdout.trim();
}

function live(env: Environment): Promise<LiveSessionInfo[]> {
  return env.admin<LiveSessionInfo[]>('/sessions');
}

/**
 * Watches the pending approvals (as alice) and decides each one DECISIONS
 * names with the CLI, until every one of them is decided; what is not named
 * stays pending and times out at the gateway.
 */
async function approve(env: Environment, token: string, outer: LongRunning): Promise<ScenarioResult['decided']> {
  const decided: ScenarioResult['decided'] = [];
  const deadline = Date.now() + 60_000;
  while (decided.length < DECISIONS.length) {
    if (Date.now() > deadline) throw new Error(`approvals did not show up in time:\n${outer.output()}`);
    for (const p of await env.admin<Pending[]>('/approvals', token)) {
      const rule = DECISIONS.find((d) => p.operation.includes(d.match));
      if (!rule || decided.some((d) => d.id === p.id)) continue;
      const res = await env.cli('approvals', rule.decision, p.id, '--gateway', env.gateway.admin.url, '--token', token, '--reason', rule.reason);
      if (res.code !== 0) throw new Error(`approvals ${rule.decision} ${p.id} failed: ${res.stderr}`);
      decided.push({ id: p.id, operation: p.operation, decision: rule.decision });
    }
    await sleep(50);
  }
  return decided;
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('the scenario did not reach the expected state in time');
    await sleep(50);
  }
}
