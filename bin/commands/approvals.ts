import type { Command } from 'commander';
import { UsageError } from '../main.js';

/** `gateway`: the gateway holding it, when the gateway asked is a member of a fleet (it lists every gateway's). */
interface Pending { id: string; identity: string; session: string; target: string; operation: string; requestedAt: string; rule?: string; gateway?: string }

/** `approvals list|approve|deny`: an approver's view of held operations, through the admin API. */
export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description("an approver's view of held operations");
  const common = (cmd: Command) => cmd
    .requiredOption('--gateway <url>', 'admin API of the gateway, e.g. http://127.0.0.1:8099')
    .requiredOption('--token <token>', "the approver's hopscope token (or - to read it from stdin)");

  common(approvals.command('list').description('pending requests, one a line, id first'))
    .option('--json', 'an array of {id, identity, session, target, operation, requestedAt}, and gateway in a fleet')
    .action(async (opts: { gateway: string; token: string; json?: boolean }) => {
      const pending = (await call(opts, 'GET', '/approvals')) as Pending[];
      if (opts.json) {
        const rows = pending.map(({ id, identity, session, target, operation, requestedAt, gateway }) => ({
          id, identity, session, target, operation, requestedAt, ...(gateway ? { gateway } : {}),
        }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const p of pending) {
        process.stdout.write(`${p.id}  ${p.requestedAt}  ${p.gateway ? `on ${p.gateway}  ` : ''}${p.identity} → ${p.target}  [${p.rule ?? ''}]  ${oneLine(p.operation)}\n`);
      }
      if (!pending.length) process.stderr.write('no pending approvals\n');
    });

  for (const decision of ['approve', 'deny'] as const) {
    common(approvals.command(`${decision} <id>`).description(`${decision} a held operation`))
      .option('--reason <text>', 'why (recorded with the decision)')
      .action(async (id: string, opts: { gateway: string; token: string; reason?: string }) => {
        const answer = (await call(opts, 'POST', `/approvals/${encodeURIComponent(id)}/${decision}`, opts.reason ? { reason: opts.reason } : {})) as Pending;
        const where = answer.gateway ? ` (held on ${answer.gateway})` : '';
        process.stdout.write(`${decision === 'approve' ? 'approved' : 'denied'} ${answer.id}${where}: ${answer.identity} → ${answer.target}: ${oneLine(answer.operation)}\n`);
      });
  }
}

async function call(opts: { gateway: string; token: string }, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = opts.token === '-' ? (await readStdin()).trim() : opts.token;
  if (!token) throw new UsageError('--token is empty');
  let url: URL;
  try {
    url = new URL(path, opts.gateway);
  } catch {
    throw new UsageError(`--gateway ${opts.gateway} is not a URL`);
  }
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  }).catch((err: Error & { cause?: { code?: string } }) => {
    throw new Error(`cannot reach the gateway at ${opts.gateway}: ${err.cause?.code ?? err.message}`);
  });
  const answer = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new Error(answer.error ?? `the gateway answered HTTP ${res.status}`);
  return answer;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}
