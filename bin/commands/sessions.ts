import type { Command } from 'commander';
import { iterateEvents, listSessions, type CaseFile, type SessionSummary } from '../../forensics/index.js';
import { openCaseOrExit } from './case-options.js';

export function registerSessions(program: Command): void {
  program
    .command('sessions')
    .description('list the sessions of a case file, with root identity and hop depth')
    .requiredOption('--db <file>', 'the case file')
    .option('--all', "include the gateway's own audit recordings")
    .option('--json', 'print an array of {id, parent, linkKind, rootIdentity, identity, target, protocol, start, end, integrity, depth, …, gateway in a fleet}')
    .action((opts: { db: string; json?: boolean; all?: boolean }) => {
      const c = openCaseOrExit(opts.db, true);
      try {
        const sessions = withGateways(c, listSessions(c, { includeGateway: opts.all }));
        process.stdout.write(opts.json ? `${JSON.stringify(sessions, null, 2)}\n` : formatText(sessions));
      } finally {
        c.close();
      }
    });
}

type Listed = SessionSummary & { gateway?: string };

/**
 * The gateway of a fleet that recorded each session: its start event says so (`fleet.gateway`); a lone
 * gateway's recordings do not, and then no session has one.
 */
function withGateways(c: CaseFile, sessions: SessionSummary[]): Listed[] {
  return sessions.map((s) => {
    if (s.startMicros === null) return s;
    for (const e of iterateEvents(c, s.id, s.startMicros, s.startMicros)) {
      const gateway = (e.data.fleet as { gateway?: unknown } | undefined)?.gateway;
      return typeof gateway === 'string' ? { ...s, gateway } : s;
    }
    return s;
  });
}

function formatText(sessions: Listed[]): string {
  if (sessions.length === 0) return 'no sessions\n';
  const fleet = sessions.some((s) => s.gateway !== undefined);
  const rows = sessions.map((s) => [
    s.id, ...(fleet ? [s.gateway ?? '-'] : []), s.protocol, s.rootIdentity ?? '-', String(s.depth), s.identity ?? '-', s.target ?? '-',
    s.start ?? '-', s.end ?? '-', s.integrity === 'intact' && s.sealed ? 'intact' : s.integrity.toUpperCase(),
    s.parent ? `${s.linkKind ?? 'parent'} ${s.parent}` : '-',
  ]);
  const head = ['SESSION', ...(fleet ? ['GATEWAY'] : []), 'PROTOCOL', 'ROOT', 'DEPTH', 'IDENTITY', 'TARGET', 'START', 'END', 'INTEGRITY', 'PARENT'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}
