import type { ChainTimeline, ChainTimelineRow, Response, TimelineKind } from '../../common/api/index.js';
import { messageOf, timelineRows } from '../export/timeline.js';
import { exchangePage } from '../query/exchanges.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { buildChain, hopsOf } from './graph.js';

const KINDS: Record<string, TimelineKind> = {
  'session.start': 'start', 'session.end': 'end', 'ssh.exec': 'command', 'ssh.line': 'command', 'pg.query': 'statement',
  'pg.parse': 'statement', 'pg.execute': 'statement', 'policy.block': 'policy', 'ssh.policy': 'policy', 'approval.requested': 'approval',
  'approval.decided': 'approval', revoked: 'revocation', unrevoked: 'revocation', refused: 'refused',
};
const RESULTS = new Set(['pg.result', 'ssh.output', 'ssh.sftp']);
/** The clients that open a hop of each protocol: a parent's command naming one is the likely opener. */
const CLIENTS: Record<string, RegExp> = {
  postgres: /\b(psql|pg_dump|pg_dumpall|pg_restore|pgbench|pg_basebackup)\b/,
  ssh: /\b(ssh|scp|sftp|rsync|ansible|ansible-playbook|sshpass)\b/,
};

/**
 * Every command, statement, policy step, revocation and refusal of the whole case, or of the chain that holds
 * `session` (with the gateway's own recordings, where revocations and refusals are), in time order, each with
 * its hop, depth and identity. Results appear only where something was masked. A child hop is tied to the
 * parent's command that most likely opened it: of the parent's commands before the child started, the last
 * that names a client of the child's protocol (psql, ssh, …), else the last one — typed-ahead lines are
 * recorded at Enter, before the program they start has connected, so "the last one" alone can be `exit`.
 */
export function chainTimeline(c: CaseFile, session: string | null, limit = 5000): ChainTimeline {
  let scope: string[] | undefined;
  if (session !== null) {
    const gateways = (caseDb(c).prepare("SELECT s.id FROM sessions s WHERE s.protocol = 'gateway'").all() as { id: string }[]).map((r) => r.id);
    scope = [...[...hopsOf(buildChain(c, { session }))].map((h) => h.id), ...gateways];
  }
  const rows: ChainTimelineRow[] = [];
  const commands = new Map<string, ChainTimelineRow[]>();
  let truncated = false;
  for (const r of timelineRows(c, scope)) {
    const kind = KINDS[r.type] ?? (RESULTS.has(r.type) && r.masked_fields ? 'masked' : undefined);
    if (!kind) continue;
    if (rows.length >= limit) {
      truncated = true;
      break;
    }
    const row: ChainTimelineRow = {
      session: r.session, seq: r.seq, t: r.t, kind, identity: r.identity, target: r.target, protocol: r.protocol, depth: r.depth,
      text: kind === 'masked' ? `masked: ${r.masked_fields}` : messageOf(r), policy: r.policy_action, actor: r.policy_actor,
    };
    if (kind === 'command' || kind === 'statement') {
      let list = commands.get(r.session);
      if (!list) commands.set(r.session, (list = []));
      list.push(row);
    }
    if (kind === 'start' && r.parent) {
      const before = commands.get(r.parent) ?? [];
      const client = CLIENTS[r.protocol];
      const opener = (client && before.findLast((x) => client.test(x.text))) || before.at(-1);
      if (opener) {
        (opener.opened ??= []).push(r.session);
        row.openedBy = { session: opener.session, seq: opener.seq };
      }
    }
    rows.push(row);
  }
  for (const [session, list] of commands) pairResponses(c, session, list);
  return { rows, truncated };
}

const RESPONSE_CHARS = 160;

/** Gives each command row of one hop what came back, read through the hop view's pairing (forensics/query/exchanges.ts). */
function pairResponses(c: CaseFile, session: string, rows: ChainTimelineRow[]): void {
  const bySeq = new Map(rows.map((r) => [r.seq, r]));
  let left = bySeq.size;
  for (let from: number | null = rows[0]!.seq; from !== null && left > 0;) {
    const page = exchangePage(c, session, from, 500);
    for (const x of page.exchanges) {
      const row = bySeq.get(x.seq);
      if (!row) continue;
      left--;
      const said = x.responses.map((r) => responseText(r, x.text)).filter(Boolean).join(' · ');
      if (said) row.response = said.length > RESPONSE_CHARS ? `${said.slice(0, RESPONSE_CHARS - 1)}…` : said;
    }
    from = page.nextSeq;
  }
}

function responseText(r: Response, command: string): string {
  switch (r.kind) {
    case 'result': return r.columns?.length ? `${r.summary} · ${r.rowCount ?? 0} rows` : r.summary;
    case 'error': return `${r.summary} ${r.text ?? ''}`.trim();
    case 'output': {
      // The shell's echo of the command says nothing the row does not: the first line is dropped when it is one.
      const lines = (r.text ?? '').split('\n');
      if (lines.length > 1 && lines[0]!.includes(command.slice(0, 28))) lines.shift();
      return lines.join('\n').replace(/\s*\n\s*/g, ' ⏎ ').trim();
    }
    case 'exit': return r.summary;
    default: return '';
  }
}
