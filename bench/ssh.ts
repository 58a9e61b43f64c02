// SSH: a download and an upload (`--mb`, 0 skips them) and the echo latency of single keys on a pty (`--echo` samples,
// 0 skips it), OpenSSH direct vs `ssh -J` through an OpenSSH bastion vs the hopscope gateway (recording on) without and
// with the example's masking rules and SSH guardrail: `npm run bench:ssh -- --mb 200 --echo 500 --rounds 1 --fsync batch`.
// `--gateway child` (default) measures each gateway as deployed: `hopscope gateway --config …` in its own process, with
// its own event loop and GC; `--gateway in-process` runs both in this process, sharing one event loop and heap with the
// bench's driver and each other (the figures before 2026-12-03, session 5); `--gateway-node-args='--cpu-prof …'` (with =) go to
// the child gateways' node.
// (`--raw`: every key's send time, CLOCK_MONOTONIC µs as in a --cpu-prof profile, and latency go into the JSON;
// `--paths gateway+rules,direct`: only those paths, e.g. to read one gateway's CPU per key or profile it alone;
// `--directions download`: only that transfer, e.g. to profile one direction).
// Opt-in paths `ssh2-relay` and `ssh2-relay+write` (bench/ssh2-relay.ts, a child process): a bare ssh2 relay with the
// gateway's two connections and nothing else, and the same writing every chunk to a file — the floor under the gateway.
// Every transfer also reads the CPU of each process in it (the ssh client, the target's and the bastion's sshd
// sessions, the gateway or relay child): `cpu` in each transfer, `meanCpuSeconds` and `relay` in the JSON.
import { spawn } from 'node:child_process';
import { open, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.js';
import { issueToken } from '../common/tokens/index.js';
import { parseConfig, startGateway } from '../gateway/index.js';
import { freePort } from '../test/helpers/ports.js';
import { run, type Env } from '../test/helpers/processes.js';
import { sshClientOf, sshTargetOf, startSshd, type SshdServer } from '../test/helpers/sshd.js';
import { BENCH_MASKING, BENCH_SSH_GUARDRAILS, startChildGateway } from './gateway.js';
import { cpuOf, RELAY_PATHS, sshdCpuSeconds, sshdSessionsGone, startRelay, timed, timedSeconds, type Relay, type RelayPath, type TransferCpu } from './ssh2-relay-bench.js';

// Compiled to dist/bench/ssh.js; the repository root is two levels up.
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const { values: args } = parseArgs({ options: {
  mb: { type: 'string', default: '200' }, echo: { type: 'string', default: '500' },
  rounds: { type: 'string', default: '1' }, fsync: { type: 'string', default: 'batch' }, raw: { type: 'boolean', default: false },
  paths: { type: 'string', default: 'direct,bastion,gateway,gateway+rules' }, directions: { type: 'string', default: 'download,upload' },
  gateway: { type: 'string', default: 'child' }, 'gateway-node-args': { type: 'string', default: '' },
} });
if (args.gateway !== 'child' && args.gateway !== 'in-process') throw new Error(`--gateway must be child or in-process, not ${args.gateway}`);
const gatewayMode = args.gateway;
const gatewayNodeArgs = args['gateway-node-args'].split(' ').filter(Boolean);
const mb = count(args.mb, 'mb');
const echoSamples = count(args.echo, 'echo');
const rounds = count(args.rounds, 'rounds');
if (rounds < 1) throw new Error('--rounds must be at least 1');

type Direction = 'download' | 'upload';
const DIRECTIONS = args.directions.split(',').map((d) => {
  if (d !== 'download' && d !== 'upload') throw new Error(`--directions: ${d} is not download or upload`);
  return d as Direction;
});
/** bastion: `ssh -J` through a second OpenSSH server; gateway+rules: the gateway with the masking rules and the SSH guardrail of examples/gateway.yml. */
type Path = 'direct' | 'bastion' | 'gateway' | 'gateway+rules' | RelayPath;
const ALL_PATHS: readonly Path[] = ['direct', 'bastion', 'gateway', 'gateway+rules', ...RELAY_PATHS];
const PATHS = args.paths.split(',').map((p) => {
  if (!ALL_PATHS.includes(p as Path)) throw new Error(`--paths: ${p} is not one of ${ALL_PATHS.join(', ')}`);
  return p as Path;
});
interface Client { args: string[]; env: Env }
interface SshGateway { port: number; token: string; peakRssBytes(): Promise<number | undefined>; cpuSeconds(): Promise<number | undefined>; stop(): Promise<void> }
interface Latency { samples: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number; meanMs: number }

const startedAt = new Date().toISOString();
const transfers: Array<{ round: number; path: Path; direction: Direction; seconds: number; mbPerSecond: number; benchCpuSeconds: number; cpu: TransferCpu }> = [];
const echo: Partial<Record<Path, Latency>> = {};
/** CPU of this process (both gateways and the bench's own driving) per key echoed, over the echo phase. */
let echoCpuMicrosPerKey: number | undefined;
/** With child gateways: each gateway's CPU (gateway, gateway+rules) per key sent through it, over the echo phase. */
let gatewayEchoCpuMicrosPerKey: Array<number | undefined> = [];
/** With --raw: each key, in the order sent (sentMicros on the monotonic clock a CPU profile's timestamps use). */
const keysSent: Array<{ path: Path; sentMicros: number; ms: number }> = [];

const sshd = await startSshd();
const bastion = await startSshd();
const dir = await mkdtemp(join(tmpdir(), 'hopscope-bench-ssh-'));
process.env.HOPSCOPE_LOG_LEVEL ??= 'warn';
const gateways: SshGateway[] = [];
const relays = new Map<RelayPath, Relay>();
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
try {
  const gateway = await benchGateway(false);
  const rules = await benchGateway(true);
  for (const path of RELAY_PATHS) if (PATHS.includes(path)) relays.set(path, await startRelay(sshd, dir, path === 'ssh2-relay+write'));
  // One ssh_config for the OpenSSH paths: -J hands `-F` to the jump host's ssh, not the command line's -i / -o.
  const config = join(dir, 'ssh_config');
  const host = (name: string, server: SshdServer, extra: string[] = []) =>
    [`Host ${name}`, '  HostName 127.0.0.1', `  Port ${server.port}`, `  User ${server.user}`, `  IdentityFile ${server.clientKeyPath}`, ...extra];
  await writeFile(config, [
    ...host('direct', sshd), ...host('bastion', bastion), ...host('via-bastion', sshd, ['  ProxyJump bastion']),
    'Host *', '  IdentitiesOnly yes', '  StrictHostKeyChecking no', '  UserKnownHostsFile /dev/null', '  LogLevel ERROR', '',
  ].join('\n'));
  const clients: Record<Path, Client> = {
    direct: { args: ['-F', config, 'direct'], env: {} },
    bastion: { args: ['-F', config, 'via-bastion'], env: {} },
    gateway: await gatewayClient(gateway),
    'gateway+rules': await gatewayClient(rules),
    ...Object.fromEntries(await Promise.all([...relays].map(async ([path, relay]) => [path, await relayClient(relay)] as const))),
  } as Record<Path, Client>;
  console.log(`SSH on 127.0.0.1: OpenSSH direct vs ssh -J through an OpenSSH bastion vs the gateway (ssh2, ${gatewayMode}, recording fsync=${args.fsync}) without and with the example's masking rules and SSH guardrail; ${cpus().length} cores`);

  if (mb > 0) {
    const file = join(sshd.dir, 'payload.bin');
    await writeRandom(file, mb);
    const quote = (a: string[]) => a.map((s) => `'${s}'`).join(' ');
    const commands: Record<Direction, (sshArgs: string[]) => string> = {
      download: (a) => `ssh ${quote(a)} cat ${file} > /dev/null`,
      upload: (a) => `ssh ${quote(a)} 'cat > /dev/null' < ${file}`,
    };
    console.log(`\n${mb} MB of random bytes each way, ${rounds} round(s)`);
    for (let round = 1; round <= rounds; round++) {
      for (const direction of DIRECTIONS) {
        for (const path of PATHS) {
          const started = process.hrtime.bigint();
          const cpu = process.cpuUsage();
          const gw = path === 'gateway' ? gateways[0] : path === 'gateway+rules' ? gateways[1] : relays.get(path as RelayPath);
          const gwCpu = await gw?.cpuSeconds();
          const sshdCpu = await sshdCpuSeconds(sshd);
          const bastionCpu = await sshdCpuSeconds(bastion);
          const timeFile = join(dir, 'time.txt');
          const res = await run('sh', ['-c', timed(commands[direction](clients[path].args), timeFile)], { env: clients[path].env, timeoutMs: 600_000 });
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const used = process.cpuUsage(cpu);
          // The sshd sessions of this transfer end (and are reaped, so counted) shortly after the client; the gateway finishes with them.
          await sshdSessionsGone(sshd);
          if (path === 'bastion') await sshdSessionsGone(bastion);
          // The gateway's CPU for the gateway paths (the child's, or this whole process in-process): less sensitive than MB/s to other load.
          const gwCpuAfter = await gw?.cpuSeconds();
          const benchCpuSeconds = gwCpu !== undefined && gwCpuAfter !== undefined ? gwCpuAfter - gwCpu : (used.user + used.system) / 1e6;
          if (res.code !== 0) throw new Error(`${path} ${direction} failed (exit ${res.code}): ${res.stderr}`);
          const delta = (before: number | undefined, after: number | undefined) => (before === undefined || after === undefined ? undefined : after - before);
          const cpuUsed = cpuOf({
            middleSeconds: gw && (relays.has(path as RelayPath) || gatewayMode === 'child') ? benchCpuSeconds : undefined,
            clientSeconds: await timedSeconds(timeFile),
            sshdSeconds: delta(sshdCpu, await sshdCpuSeconds(sshd)),
            bastionSshdSeconds: path === 'bastion' ? delta(bastionCpu, await sshdCpuSeconds(bastion)) : undefined,
          });
          transfers.push({ round, path, direction, seconds, mbPerSecond: mb / seconds, benchCpuSeconds, cpu: cpuUsed });
          const cpuNote = path.startsWith('gateway') ? `   gateway CPU ${benchCpuSeconds.toFixed(2)} s` : path.startsWith('ssh2-relay') ? `   relay CPU ${benchCpuSeconds.toFixed(2)} s` : '';
          console.log(`  ${direction.padEnd(8)} ${path.padEnd(16)} ${seconds.toFixed(2).padStart(7)} s ${(mb / seconds).toFixed(1).padStart(8)} MB/s${cpuNote}   ${cpuText(cpuUsed)}`);
        }
      }
    }
  }
  if (echoSamples > 0) {
    console.log(`\necho of ${echoSamples} single keys on a pty (login shell, then \`stty raw -echo; exec cat\`), one key at a time, paths interleaved`);
    const sessions = new Map<Path, EchoSession>();
    const latencies = new Map<Path, number[]>(PATHS.map((p) => [p, []]));
    try {
      for (const path of PATHS) sessions.set(path, await openEcho(clients[path]));
      const cpu = process.cpuUsage();
      const gatewayCpu = await Promise.all(gateways.map((gw) => gw.cpuSeconds()));
      // Key i goes to every path in turn (starting at a different one each time), so load on the machine hits all alike.
      for (let i = 0; i < echoSamples; i++) {
        for (let j = 0; j < PATHS.length; j++) {
          const path = PATHS[(i + j) % PATHS.length]!;
          const sentMicros = args.raw ? Number(process.hrtime.bigint() / 1000n) : 0;
          const ms = await sessions.get(path)!.key();
          latencies.get(path)!.push(ms);
          if (args.raw) keysSent.push({ path, sentMicros, ms });
        }
      }
      const used = process.cpuUsage(cpu);
      echoCpuMicrosPerKey = (used.user + used.system) / (echoSamples * PATHS.length);
      const gatewayCpuAfter = await Promise.all(gateways.map((gw) => gw.cpuSeconds()));
      gatewayEchoCpuMicrosPerKey = gatewayCpuAfter.map((after, i) => (after === undefined || gatewayCpu[i] === undefined ? undefined : ((after - gatewayCpu[i]!) * 1e6) / echoSamples));
      for (const session of sessions.values()) session.check();
    } finally {
      for (const session of sessions.values()) await session.close();
    }
    for (const path of PATHS) {
      const e = (echo[path] = percentiles(latencies.get(path)!));
      console.log(`  ${path.padEnd(16)} p50 ${e.p50Ms.toFixed(3).padStart(8)} ms   p90 ${e.p90Ms.toFixed(3).padStart(8)} ms   p99 ${e.p99Ms.toFixed(3).padStart(8)} ms   max ${e.maxMs.toFixed(1).padStart(6)} ms`);
    }
    const gwCpu = gatewayEchoCpuMicrosPerKey.map((c, i) => `${i ? 'gateway+rules' : 'gateway'} ${c === undefined ? '-' : c.toFixed(0)} µs`).join(', ');
    if (gatewayMode === 'child') console.log(`  CPU per key of each child gateway (its own key, 10 ms ticks): ${gwCpu}; of this process per key of any path: ${echoCpuMicrosPerKey!.toFixed(0)} µs`);
    else console.log(`  CPU of this process per key: ${echoCpuMicrosPerKey!.toFixed(0)} µs (both gateways and the bench itself)`);
  }
  await report();
} finally {
  clearInterval(sampler);
  for (const gw of gateways) await gw.stop().catch((err: Error) => console.error(`cleanup: ${err.message}`));
  for (const relay of relays.values()) await relay.stop().catch((err: Error) => console.error(`cleanup: ${err.message}`));
  await sshd.stop();
  await bastion.stop();
  await rm(dir, { recursive: true, force: true });
}

async function report(): Promise<void> {
  const mean = (path: Path, d: Direction) => {
    const mine = transfers.filter((t) => t.path === path && t.direction === d);
    return mine.length ? mine.reduce((s, t) => s + t.mbPerSecond, 0) / mine.length : undefined;
  };
  const ratio = (a: Path, b: Path) => Object.fromEntries((['download', 'upload'] as const).map((d) => {
    const [x, y] = [mean(a, d), mean(b, d)];
    return [d, x !== undefined && y ? x / y : undefined];
  })) as Record<Direction, number | undefined>;
  const ratios = {
    'gateway/direct': ratio('gateway', 'direct'), 'bastion/direct': ratio('bastion', 'direct'),
    'gateway/bastion': ratio('gateway', 'bastion'), 'rules/gateway': ratio('gateway+rules', 'gateway'),
  };
  const echoAdded = Object.fromEntries(PATHS.filter((p) => p !== 'direct' && echo[p] && echo.direct).map((p) => [p, {
    p50Ms: echo[p]!.p50Ms - echo.direct!.p50Ms, p99Ms: echo[p]!.p99Ms - echo.direct!.p99Ms,
    p50Ratio: echo[p]!.p50Ms / echo.direct!.p50Ms, p99Ratio: echo[p]!.p99Ms / echo.direct!.p99Ms,
  }]));
  const f = (n: number | undefined) => n?.toFixed(2) ?? '-';
  // The relay floor: what a bare ssh2 relay reaches against direct and the bastion, and the gateways against it.
  const relayRatios = Object.fromEntries(([
    ['ssh2-relay', 'direct'], ['ssh2-relay+write', 'direct'], ['ssh2-relay', 'bastion'], ['ssh2-relay+write', 'ssh2-relay'],
    ['gateway', 'ssh2-relay'], ['gateway', 'ssh2-relay+write'], ['gateway+rules', 'ssh2-relay'],
  ] as Array<[Path, Path]>).filter(([a, b]) => PATHS.includes(a) && PATHS.includes(b) && relays.size > 0).map(([a, b]) => [`${a}/${b}`, ratio(a, b)]));
  const meanCpuSeconds = Object.fromEntries(PATHS.map((p) => [p, Object.fromEntries(DIRECTIONS.map((d) => [d, meanCpu(p, d)]))]));
  // CPU of the middle process (gateway or relay child) per transfer, one against the other: less noisy than MB/s.
  const middleCpuRatios = Object.fromEntries(([['gateway', 'ssh2-relay'], ['gateway+rules', 'ssh2-relay'], ['ssh2-relay+write', 'ssh2-relay']] as Array<[Path, Path]>)
    .filter(([a, b]) => PATHS.includes(a) && PATHS.includes(b)).map(([a, b]) => [`${a}/${b}`, Object.fromEntries(DIRECTIONS.map((d) => {
      const [x, y] = [meanCpuSeconds[a]?.[d]?.middleSeconds, meanCpuSeconds[b]?.[d]?.middleSeconds];
      return [d, x !== undefined && y ? x / y : undefined];
    }))]));
  console.log('');
  if (mb > 0) for (const [name, r] of Object.entries({ ...ratios, ...relayRatios })) console.log(`${name.padEnd(16)} download ${f(r.download)}   upload ${f(r.upload)}`);
  if (mb > 0) {
    console.log('mean CPU seconds per transfer (middle = gateway or relay child; ssh = client; sshd = target sessions; bastion = its sshd sessions):');
    for (const p of PATHS) for (const d of DIRECTIONS) if (meanCpuSeconds[p]?.[d]) console.log(`  ${d.padEnd(8)} ${p.padEnd(16)} ${cpuText(meanCpuSeconds[p][d])}`);
  }
  for (const [name, r] of Object.entries(middleCpuRatios)) console.log(`CPU ${name} (middle process): download ${f(r.download)}   upload ${f(r.upload)}`);
  for (const [path, relay] of relays) console.log(`${path} negotiated: ${relay.algorithms().join('; ') || '-'}`);
  for (const [path, a] of Object.entries(echoAdded)) {
    console.log(`echo ${path} − direct: p50 ${signed(a.p50Ms)} ms (×${f(a.p50Ratio)}), p99 ${signed(a.p99Ms)} ms (×${f(a.p99Ratio)})`);
  }
  const gatewayRss = await Promise.all(gateways.map((gw) => gw.peakRssBytes()));
  const mib = (b: number | undefined) => (b === undefined ? '-' : `${(b / 2 ** 20).toFixed(0)} MiB`);
  if (gatewayMode === 'child') console.log(`peak RSS: gateway ${mib(gatewayRss[0])}, gateway+rules ${mib(gatewayRss[1])} (child VmHWM); bench process ${mib(peakRss)}`);
  else console.log(`peak RSS of the bench process (both gateways in-process): ${mib(peakRss)}`);
  const out = join(repoRoot, 'bench', 'results');
  await mkdir(out, { recursive: true });
  const file = join(out, `ssh-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify({
    bench: 'ssh', startedAt, machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    options: { mb, echo: echoSamples, rounds, fsync: args.fsync, gatewayMode }, gatewayPeakRssBytes: gatewayRss, masking: BENCH_MASKING, guardrails: BENCH_SSH_GUARDRAILS,
    transfers, meanMbPerSecond: Object.fromEntries(PATHS.map((p) => [p, { download: mean(p, 'download'), upload: mean(p, 'upload') }])),
    ratios, relay: { ratios: relayRatios, middleCpuRatios, algorithms: Object.fromEntries([...relays].map(([p, r]) => [p, r.algorithms()])) }, meanCpuSeconds,
    echo, echoAdded, echoCpuMicrosPerKey, gatewayEchoCpuMicrosPerKey, peakRssBytes: peakRss, ...(args.raw ? { keys: keysSent } : {}),
  }, null, 2)}\n`);
  console.log(`raw results: ${file}`);
}

/** A gateway (a child process or in this one) in front of the target sshd, with the example's masking rules and SSH guardrail if asked. */
async function benchGateway(rules: boolean): Promise<SshGateway> {
  const gwDir = join(dir, rules ? 'gateway-rules' : 'gateway');
  await mkdir(gwDir, { recursive: true });
  const listen = `127.0.0.1:${await freePort()}`;
  const raw = {
    recording: { dir: join(gwDir, 'recordings'), fsync: args.fsync },
    keys: { dir: join(gwDir, 'keys') },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: { ssh: listen },
    targets: [sshTargetOf(sshd, 'bench-host')],
    identities: [{ name: 'bench', kind: 'machine', targets: ['bench-host'] }],
    ...(rules ? { masking: BENCH_MASKING, guardrails: BENCH_SSH_GUARDRAILS } : {}),
  };
  const port = Number(listen.split(':')[1]);
  let gw: SshGateway;
  if (gatewayMode === 'child') {
    gw = { port, ...await startChildGateway(raw, gwDir, repoRoot, listen, {}, gatewayNodeArgs) };
  } else {
    const running = await startGateway(parseConfig(raw, gwDir));
    const { token } = issueToken(running.signer, systemClock, { identity: 'bench', ttlSeconds: 3600 });
    gw = { port: running.ssh!.port, token, peakRssBytes: async () => undefined, cpuSeconds: async () => undefined, stop: () => running.stop() };
  }
  gateways.push(gw);
  return gw;
}

/** Mean CPU of each process over the transfers of one path and direction. */
function meanCpu(path: Path, d: Direction): TransferCpu | undefined {
  const mine = transfers.filter((t) => t.path === path && t.direction === d);
  if (mine.length === 0) return undefined;
  const keys = ['middleSeconds', 'clientSeconds', 'sshdSeconds', 'bastionSshdSeconds'] as const;
  const mean = (k: (typeof keys)[number]) => (mine.every((t) => t.cpu[k] !== undefined) ? mine.reduce((s, t) => s + t.cpu[k]!, 0) / mine.length : undefined);
  return cpuOf(Object.fromEntries(keys.map((k) => [k, mean(k)])));
}

function cpuText(c: TransferCpu): string {
  const part = (name: string, v: number | undefined) => (v === undefined ? '' : `${name} ${v.toFixed(2)} + `);
  return `CPU ${part('middle', c.middleSeconds)}${part('ssh', c.clientSeconds)}${part('sshd', c.sshdSeconds)}${part('bastion', c.bastionSshdSeconds)}`
    .replace(/ \+ $/, '') + ` = ${c.totalSeconds.toFixed(2)} s`;
}

async function relayClient(relay: Relay): Promise<Client> {
  const client = await sshClientOf(dir, relay.token);
  return { args: [...client.options, '-p', String(relay.port), 'bench@127.0.0.1'], env: client.env };
}

async function gatewayClient(gw: SshGateway): Promise<Client> {
  const client = await sshClientOf(dir, gw.token);
  return { args: [...client.options, '-p', String(gw.port), 'bench:bench-host@127.0.0.1'], env: client.env };
}

interface EchoSession {
  /** Sends the next key; resolves with the milliseconds until its echo arrived. */
  key(): Promise<number>;
  /** Throws unless the echo is exactly what was typed. */
  check(): void;
  close(): Promise<void>;
}

/**
 * Opens an interactive session (`ssh -tt`, the login shell on a pty) and turns it into a raw echo
 * (`stty raw -echo; exec cat`: every key comes back as soon as a program on the target reads it).
 */
async function openEcho(client: Client): Promise<EchoSession> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(client.env)) if (v === undefined) delete env[k]; else env[k] = v;
  const ssh = spawn('ssh', ['-tt', '-e', 'none', ...client.args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let stderr = '';
  let onData: (() => void) | undefined;
  /** In the echo phase each stdout chunk goes to takeEcho as bytes instead of into `output`. */
  let echoing = false;
  ssh.stdout.on('data', (chunk: Buffer) => {
    if (echoing) return takeEcho(chunk);
    output += chunk.toString('latin1');
    onData?.();
  });
  ssh.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<void>((resolve) => ssh.once('close', () => resolve()));
  const close = async () => {
    ssh.kill('SIGTERM');
    await exited;
  };
  const until = (done: () => boolean, ms: number, what: string) => new Promise<void>((resolve, reject) => {
    if (done()) return resolve();
    const timer = setTimeout(() => ((onData = undefined), reject(new Error(`no ${what} within ${ms} ms; output: ${JSON.stringify(output.slice(-300))} stderr: ${stderr}`))), ms);
    onData = () => {
      if (!done()) return;
      clearTimeout(timer);
      onData = undefined;
      resolve();
    };
    void exited.then(() => onData?.());
  });
  try {
    await until(() => output.length > 0, 15_000, 'prompt');
    await sleep(300); // the rest of the prompt
    ssh.stdin.write("stty raw -echo; printf 'HOPSCOPE%s\\n' READY; exec cat\r");
    await until(() => output.includes('HOPSCOPEREADY\n'), 15_000, 'ready marker');
    await sleep(200);
  } catch (err) {
    await close();
    throw err;
  }
  // The echo phase allocates as little as it can per key: the gateways run in this process, so the driver's own
  // garbage (a string per chunk, a timer and closures per key) would start scavenges that stall a gateway in the
  // middle of some key. Keys are prepared Buffers, the echo is compared byte by byte as it arrives, one watchdog.
  const keys = Array.from('abcdefghijklmnopqrstuvwxyz', (c) => Buffer.from(c, 'latin1'));
  let sent = 0;
  let received = 0;
  let mismatch: string | undefined;
  let waiting: { resolve: () => void; reject: (err: Error) => void; since: number } | undefined;
  const fail = (why: string) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(new Error(`${why}; stderr: ${stderr}`));
  };
  function takeEcho(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++, received++) {
      if (mismatch === undefined && chunk[i] !== keys[received % keys.length]![0]) {
        mismatch = `byte ${received} of the echo is 0x${chunk[i]!.toString(16)}, typed ${keys[received % keys.length]!.toString('latin1')}`;
      }
    }
    if (waiting && received >= sent) {
      const w = waiting;
      waiting = undefined;
      w.resolve();
    }
  }
  echoing = true;
  void exited.then(() => fail(`ssh exited while key ${sent} waited for its echo`));
  const watchdog = setInterval(() => {
    if (waiting && performance.now() - waiting.since > 10_000) fail(`no echo of key ${sent} within 10000 ms`);
  }, 1000).unref();
  return {
    async key() {
      const key = keys[sent % keys.length]!;
      sent++;
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        waiting = { resolve, reject, since: started };
        ssh.stdin.write(key);
      });
      return performance.now() - started;
    },
    check() {
      if (mismatch !== undefined || received !== sent) throw new Error(`the echo differs from what was typed: ${mismatch ?? `${received} bytes back for ${sent} keys`}`);
    },
    close: async () => {
      clearInterval(watchdog);
      await close();
    },
  };
}

function percentiles(ms: number[]): Latency {
  const sorted = Float64Array.from(ms).sort();
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { samples: sorted.length, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: sorted[sorted.length - 1]!, meanMs: ms.reduce((a, b) => a + b, 0) / ms.length };
}

function signed(ms: number): string {
  return `${ms < 0 ? '−' : '+'}${Math.abs(ms).toFixed(3)}`;
}

function count(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, not ${text}`);
  return n;
}

/** Incompressible data, written in 1 MiB blocks. */
async function writeRandom(path: string, megabytes: number): Promise<void> {
  const { randomFillSync } = await import('node:crypto');
  const handle = await open(path, 'w');
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < megabytes; i++) await handle.write(randomFillSync(block));
  await handle.close();
}
