import type { CaseFile } from '../store/case.js';
import { esc } from './html-style.js';
import { messageOf, microsToIso, timelineRows, timestampDesc, type TimelineScope } from './timeline.js';

/** What the merged timeline shows: what each hop did and what was decided about it, not its output. */
export const MERGED_TYPES = new Set([
  'session.start', 'session.end', 'pg.query', 'pg.execute', 'ssh.exec', 'ssh.line', 'ssh.sftp',
  'policy.block', 'ssh.policy', 'approval.requested', 'approval.decided', 'refused', 'revoked', 'unrevoked',
]);

export const MAX_MERGED_ROWS = 10_000;

/** A row's class, for colour and for tests: the decision on it, else what it is (revoked, refused, a revoked end). */
function rowClass(type: string, policyAction: string | null, endCause: string | null): string {
  if (type === 'revoked' || type === 'refused' || type === 'unrevoked') return type;
  if (type === 'session.end' && (endCause === 'revoked' || endCause === 'ancestor-revoked')) return 'revoked';
  return policyAction?.split(';').at(-1) ?? '';
}

/**
 * Every hop's commands, statements, policy steps, session starts and ends, and the gateway's
 * refusals and revocations, in one table in time order (the order the other timeline exports use).
 */
export function writeMergedTimeline(c: CaseFile, out: { write(s: string): void }, scope: TimelineScope): number {
  out.write('<h2 id="timeline">Merged timeline</h2><p>Every hop\'s commands, statements and policy steps, and the gateway\'s revocations and refusals, in time order. Output is in the per-hop timelines below.</p>');
  out.write('<table class="timeline"><tr><th>Time</th><th>Depth</th><th>Hop</th><th>Identity → target</th><th>Kind</th><th>What</th><th title="who approved, denied or revoked">Decided by</th></tr>');
  let n = 0;
  let omitted = 0;
  // A refusal's actor is the identity refused, not someone who decided: the row's text names it.
  for (const r of timelineRows(c, scope)) {
    if (!MERGED_TYPES.has(r.type)) continue;
    if (n >= MAX_MERGED_ROWS) {
      omitted++;
      continue;
    }
    n++;
    const gateway = r.protocol === 'gateway';
    out.write(`<tr class="${esc(rowClass(r.type, r.policy_action, r.end_cause))}" data-type="${esc(r.type)}" data-session="${esc(r.session)}" data-t="${r.t}">` +
      `<td>${esc(microsToIso(r.t))}</td><td>${gateway ? '' : r.depth}</td><td><code>${esc(r.session)}</code> ${esc(r.protocol)}</td>` +
      `<td>${gateway ? '' : `${esc(r.identity)} → ${esc(r.target)}`}</td><td class="kind">${esc(timestampDesc(r.type))}</td><td class="text">${esc(messageOf(r))}</td><td>${r.type === 'refused' ? '' : esc(r.policy_actor)}</td></tr>`);
  }
  out.write('</table>');
  if (omitted) out.write(`<p class="bad">${omitted} more rows not shown; see <code>hopscope export --format csv</code>.</p>`);
  return n;
}
