import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { HopscopeError } from '../common/errors.js';

/** A secret comes from an environment variable or a file, never inline in the config. */
const Secret = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type Secret = z.infer<typeof Secret>;

const HostPort = z.string().regex(/^[^:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'expected host:port');

const PostgresTarget = z.object({
  name: z.string().min(1),
  type: z.literal('postgres'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(5432),
  database: z.string().min(1),
  user: z.string().min(1),
  password: Secret.optional(),
}).strict();

const SshTarget = z.object({
  name: z.string().min(1),
  type: z.literal('ssh'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1),
  privateKey: Secret,
  /** Pins the target's host key: an OpenSSH public key line (`ssh-ed25519 AAAA...`) or its `SHA256:` fingerprint. */
  hostKey: z.string().optional(),
  /** Destinations (`host:port`, `*` for any port) clients may reach with local forwarding (-L); none by default. */
  allowForwarding: z.array(z.string().regex(/^[^:]+:(\d{1,5}|\*)$/, 'expected host:port or host:*')).default([]),
}).strict();

const Identity = z.object({
  name: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'identity names use letters, digits, dot, dash and underscore'),
  kind: z.enum(['human', 'machine']),
  targets: z.array(z.string().min(1)).default([]),
  approver: z.boolean().default(false),
  publicKeys: z.array(z.string()).default([]),
}).strict();

export const GatewayConfigSchema = z.object({
  recording: z.object({
    dir: z.string().min(1),
    fsync: z.enum(['always', 'batch', 'none']).default('batch'),
    maxRowsPerResult: z.number().int().min(0).default(100),
    checkpointEvery: z.number().int().min(1).default(1000),
  }).strict(),
  keys: z.object({ dir: z.string().min(1) }).strict(),
  admin: z.object({ listen: HostPort.default('127.0.0.1:8099') }).strict().default({ listen: '127.0.0.1:8099' }),
  listeners: z.object({
    postgres: HostPort.optional(),
    ssh: HostPort.optional(),
  }).strict(),
  tls: z.object({ cert: Secret, key: Secret, require: z.boolean().default(false) }).strict().optional(),
  targets: z.array(z.discriminatedUnion('type', [PostgresTarget, SshTarget])).default([]),
  identities: z.array(Identity).default([]),
  tokens: z.object({ defaultTtl: z.string().default('15m'), maxTtl: z.string().default('24h') }).strict()
    .default({ defaultTtl: '15m', maxTtl: '24h' }),
  // Policies are validated by their own issue's compiler; accepted as data here.
  masking: z.array(z.record(z.string(), z.unknown())).default([]),
  guardrails: z.array(z.record(z.string(), z.unknown())).default([]),
  approvals: z.object({ timeout: z.string().default('5m') }).passthrough().default({ timeout: '5m' }),
  /**
   * A fleet: gateways that share trust, revocations, live sessions and approvals through one PostgreSQL
   * database. Without it the gateway works alone (keys.dir keeps its revocations).
   */
  controlPlane: z.object({
    /** A connection string (`postgres://…`), or a secret holding one (it may carry a password). */
    postgres: z.union([z.string().min(1), Secret]),
    gatewayName: z.string().regex(/^[A-Za-z0-9._-]{1,60}$/, 'gateway names use letters, digits, dot, dash and underscore'),
    /** A gateway whose heartbeat is older than this is taken for dead: its sessions are marked ended by crash. */
    leaseSeconds: z.number().int().min(2).max(600).default(15),
    /**
     * While the control plane is unreachable: `refuse` new sessions (the default: a revocation made elsewhere
     * meanwhile could not be seen), or `admit-local`: admit on this gateway's last copy, each such session
     * recorded as admitted local-only. Live sessions continue either way.
     */
    whenUnreachable: z.enum(['refuse', 'admit-local']).default('refuse'),
    /** The admin URL peers and the workbench show for this gateway (default: http:// + admin.listen). */
    adminUrl: z.string().url().optional(),
  }).strict().optional(),
  /**
   * What the SQL policy does where it cannot see: `dynamic` judges SQL the gateway
   * cannot read statically (DO blocks, calls of user-defined functions, EXECUTE of a
   * string, built-ins that run a query given as text); unset, it is `review` when any
   * data-changing or destructive SQL rule exists and `allow` otherwise.
   * `trustedFunctions`: `[schema.]name` globs of user-defined functions an operator
   * trusts not to read protected columns nor run dynamic SQL.
   */
  sql: z.object({
    dynamic: z.enum(['allow', 'review', 'block']).optional(),
    trustedFunctions: z.array(z.string().min(1)).default([]),
  }).strict().default({ trustedFunctions: [] }),
  /**
   * What the SSH policy does where it cannot be sure: `unresolved` judges a command
   * the shell parser cannot resolve statically (eval, a variable as the program);
   * `uncertain` judges a typed line the gateway cannot reconstruct for sure
   * (history recall, tab completion, an unmodelled key). Unset, both are `review`
   * when any SSH rule applies to the session, and `allow` otherwise.
   */
  shell: z.object({
    unresolved: z.enum(['allow', 'review', 'block']).optional(),
    uncertain: z.enum(['allow', 'review', 'block']).optional(),
    /**
     * Files read over sftp (and scp, which uses sftp) while text masking rules
     * apply to the session: `mask` (the default) serves text masked and refuses
     * what cannot be masked without corrupting it (binary, or larger than the
     * gateway holds to mask); `allow` serves that unmasked (recorded so); `block`
     * refuses every download. Legacy `scp -O` downloads are refused while masking applies.
     */
    downloads: z.enum(['mask', 'block', 'allow']).optional(),
  }).strict().default({}),
}).strict();

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;
export type PostgresTargetConfig = z.infer<typeof PostgresTarget>;
export type SshTargetConfig = z.infer<typeof SshTarget>;
export type TargetConfig = PostgresTargetConfig | SshTargetConfig;
export type IdentityConfig = z.infer<typeof Identity>;

/** A validated configuration with every relative path made absolute against the config file's folder. */
export interface LoadedConfig extends GatewayConfig {
  readonly source: string;
  readonly baseDir: string;
  /**
   * The configuration as its file gives it, when the running one was derived from it (a worker of
   * `--workers N` records in its own folder under its own fleet name): what a reload compares the file with.
   */
  readonly fromFile?: LoadedConfig;
}

/** Where a configuration problem is: the file, its line (when the YAML node is known), the config path or rule, the problem. */
export interface ConfigProblem {
  file: string;
  line: number | undefined;
  /** `masking[1]`, `identities[0].targets`, `guardrail no-drop`, ... */
  where: string;
  problem: string;
}

/** `file:line: where: problem`, the one line a person reads first. */
export const describeProblem = (p: ConfigProblem): string => `${p.file}${p.line ? `:${p.line}` : ''}: ${p.where}: ${p.problem}`;

/** A configuration that cannot be used; `first` locates its first problem (for `--check` and a refused reload). */
export class ConfigInvalid extends HopscopeError {
  constructor(message: string, readonly first: ConfigProblem) {
    super('CONFIG_INVALID', message);
  }
}

/** A config file as YAML data, with the line of any value in it (1-based). */
export interface ConfigDocument {
  raw: unknown;
  source: string;
  lineOf(path: readonly (string | number)[]): number | undefined;
}

export function readConfigDocument(path: string): ConfigDocument {
  const source = resolve(path);
  const fail = (line: number | undefined, problem: string) =>
    new ConfigInvalid(`${path}${line ? `:${line}` : ''}: ${problem}`, { file: path, line, where: '(file)', problem });
  if (!existsSync(source)) throw fail(undefined, `config file not found: ${path}`);
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(source, 'utf8'), { lineCounter: lines });
  const error = doc.errors[0];
  // The message's first line (a code frame follows it).
  if (error) throw fail(error.linePos?.[0].line, `not valid YAML: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  const lineOf = (at: readonly (string | number)[]): number | undefined => {
    let node: unknown = doc.contents;
    let line = lineAt(node, lines);
    for (const key of at) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
        if (!pair) break;
        line = lineAt(pair.key, lines) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof key === 'number') {
        node = node.items[key];
        line = lineAt(node, lines) ?? line;
      } else break;
    }
    return line;
  };
  return { raw: doc.toJS(), source, lineOf };
}

function lineAt(node: unknown, lines: LineCounter): number | undefined {
  const range = (node as Node | null)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}

export function loadConfig(path: string): LoadedConfig {
  const doc = readConfigDocument(path);
  return parseConfig(doc.raw, dirname(doc.source), path, doc.lineOf);
}

/** `identities.0.targets` → `identities[0].targets` */
const pathText = (at: readonly PropertyKey[]) => at.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(top)';

export function parseConfig(raw: unknown, baseDir: string, source = '<inline>',
  lineOf: ConfigDocument['lineOf'] = () => undefined): LoadedConfig {
  const parsed = GatewayConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const located = parsed.error.issues.map((i) => {
      const at = i.path.filter((k): k is string | number => typeof k !== 'symbol');
      // An unrecognized key is located at the key itself.
      const keys = (i as { keys?: string[] }).keys;
      const line = lineOf(keys?.length ? [...at, keys[0]!] : at);
      return { where: pathText(at), problem: i.message, line };
    });
    const problems = located.map((p) => `  ${p.where.replace(/\[(\d+)\]/g, '.$1')}: ${p.problem}${p.line ? ` (line ${p.line})` : ''}`).join('\n');
    throw new ConfigInvalid(`${source}: invalid configuration\n${problems}`, { file: source, ...located[0]! });
  }
  const cfg = parsed.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const invalid = (at: (string | number)[], problem: string) => {
    const line = lineOf(at);
    return new ConfigInvalid(`${source}${line ? `:${line}` : ''}: ${problem}`, { file: source, line, where: pathText(at), problem });
  };
  const names = new Set<string>();
  cfg.targets.forEach((t, i) => {
    if (names.has(t.name)) throw invalid(['targets', i], `target ${t.name} is defined twice`);
    names.add(t.name);
  });
  const identities = new Set<string>();
  cfg.identities.forEach((id, i) => {
    if (identities.has(id.name)) throw invalid(['identities', i], `identity ${id.name} is defined twice`);
    identities.add(id.name);
    id.targets.forEach((t, j) => {
      if (!names.has(t)) throw invalid(['identities', i, 'targets', j], `identity ${id.name} lists unknown target ${t}`);
    });
  });
  const fileSecret = (s: Secret): Secret => ('file' in s ? { file: abs(s.file) } : s);
  return {
    ...cfg,
    source,
    baseDir,
    recording: { ...cfg.recording, dir: abs(cfg.recording.dir) },
    keys: { dir: abs(cfg.keys.dir) },
    controlPlane: cfg.controlPlane && {
      ...cfg.controlPlane, postgres: typeof cfg.controlPlane.postgres === 'string' ? cfg.controlPlane.postgres : fileSecret(cfg.controlPlane.postgres),
    },
    tls: cfg.tls && { ...cfg.tls, cert: fileSecret(cfg.tls.cert), key: fileSecret(cfg.tls.key) },
    targets: cfg.targets.map((t) =>
      t.type === 'ssh' ? { ...t, privateKey: fileSecret(t.privateKey) } : { ...t, password: t.password && fileSecret(t.password) }),
  };
}

/** Reads a secret at the moment it is needed; the value is never logged. */
export function readSecret(secret: Secret, what: string): string {
  if ('env' in secret) {
    const value = process.env[secret.env];
    if (value === undefined) throw new HopscopeError('CONFIG_INVALID', `${what}: environment variable ${secret.env} is not set`);
    return value;
  }
  try {
    return readFileSync(secret.file, 'utf8');
  } catch (err) {
    throw new HopscopeError('CONFIG_INVALID', `${what}: cannot read ${secret.file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

export function parseHostPort(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(text.slice(i + 1)) };
}
