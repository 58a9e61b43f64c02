import { isTrustworthy } from '../../common/recording/index.js';
import { hopsOf, type Chain, type ChainHop } from '../chain/graph.js';
import type { ChainAnswers } from '../chain/render.js';
import type { CaseFile } from '../store/case.js';
import { endBadge } from './html-graph.js';
import { esc } from './html-style.js';
import { timelineRows } from './timeline.js';

/** One recording file of the case, as the custody section and the integrity answer read it. */
export interface CaseFileFact {
  id: number;
  path: string;
  session_id: string;
  integrity: string;
  sealed: number;
  key_trusted: number;
}

export const fileOk = (f: CaseFileFact) => isTrustworthy(f.integrity) && f.sealed === 1 && f.key_trusted === 1;

/** Policy steps by what was decided; a denial and a timeout are different answers (nobody decided a timeout). */
const STEP: Record<string, string> = { block: 'blocked', blocked: 'blocked', refused: 'blocked', review: 'held', held: 'held', approved: 'approved', denied: 'denied', timeout: 'timed out' };

export const badgeHtml = (h: Pick<ChainHop, 'ended'>) => {
  const b = endBadge(h);
  return b ? ` <span class="badge ${b}">${b.toUpperCase()}</span>` : '';
};

/** What a revocation in the gateway's recording says beyond the chain's fact: its subject, reason and the sessions it cut. */
interface RevocationDetail { subject: string; reason: string | null; sessionsCut: string[] }

function revocationDetails(c: CaseFile, answers: ChainAnswers): Map<string, RevocationDetail> {
  const wanted = new Set(answers.gateway.filter((g) => g.action === 'revoked').map((g) => `${g.recording}#${g.seq}`));
  const out = new Map<string, RevocationDetail>();
  if (!wanted.size) return out;
  for (const r of timelineRows(c, [...new Set(answers.gateway.map((g) => g.recording))])) {
    if (!wanted.has(`${r.session}#${r.seq}`)) continue;
    const d = JSON.parse(r.data) as { identity?: string; tokenId?: string; reason?: string; sessionsCut?: string[] };
    out.set(`${r.session}#${r.seq}`, {
      subject: d.identity !== undefined ? `identity ${d.identity}` : `token ${d.tokenId ?? '?'}`,
      reason: d.reason ?? null, sessionsCut: Array.isArray(d.sessionsCut) ? d.sessionsCut : [],
    });
  }
  return out;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const code = (s: string) => `<code>${esc(s)}</code>`;
/** A session id by its random tail (the part after the time stamp), the full id on hover: the hop table's parent column stays narrow. */
const shortCode = (s: string) => `<code title="${esc(s)}">${esc(/-([0-9a-z]{6,})$/i.exec(s)?.[1] ?? s)}</code>`;

/** The incident's answers, first in the report: root identity, hops, commands, sensitive fields, policy, revocations, integrity. */
export function writeAnswers(c: CaseFile, out: { write(s: string): void }, chain: Chain, answers: ChainAnswers, files: CaseFileFact[]): void {
  const hops = [...hopsOf(chain)];
  out.write('<h2 id="answers">Answers</h2><dl class="answers">');

  out.write('<dt>Root identity</dt><dd>');
  out.write(answers.triggeredBy.length ? answers.triggeredBy.map((t) => `<b class="root-identity">${esc(t.identity)}</b>: ${t.hops} hops, depth up to ${t.maxDepth}, from ${t.rootSessions.map(code).join(', ')}`).join('<br>') : 'no sessions in the case');
  out.write('</dd>');

  const depth = Math.max(0, ...hops.map((h) => h.depth));
  const statements = hops.reduce((n, h) => n + h.counts.statements, 0);
  const commands = hops.reduce((n, h) => n + h.counts.commands, 0);
  out.write(`<dt>Hops and depth</dt><dd id="answer-hops">${hops.length} hops, depth up to ${depth}; ${statements} statements and ${commands} commands in all (per hop below)</dd>`);

  const masked = answers.sensitive.filter((s) => s.masked).reduce((n, s) => n + s.count, 0);
  const unmasked = answers.sensitive.filter((s) => !s.masked).reduce((n, s) => n + s.count, 0);
  out.write(`<dt>Sensitive fields returned</dt><dd id="answer-sensitive"><span class="${unmasked ? 'bad' : 'ok'}">${masked} masked, ${unmasked} unmasked</span>`);
  for (const h of hops.filter((x) => x.sensitive.length)) {
    const u = h.sensitive.filter((s) => !s.masked).reduce((n, s) => n + s.count, 0);
    out.write(`<br>${code(h.id)} (${esc(h.identity)} → ${esc(h.target)}): ${h.sensitive.map((s) => `${esc(s.field)}${s.rule && s.rule !== s.field ? ` (${esc(s.rule)})` : ''} ${s.count}${s.masked ? '' : ' <b class="bad">NOT masked</b>'}`).join(', ')}` +
      ` — <span class="${u ? 'bad' : 'ok'}">${u} unmasked</span>`);
  }
  out.write('</dd>');

  const steps = new Map<string, { n: number; by: Set<string> }>();
  for (const p of answers.policy) {
    const step = STEP[p.action];
    if (!step) continue;
    const s = steps.get(step) ?? { n: 0, by: new Set<string>() };
    s.n++;
    if (p.actor) s.by.add(p.actor);
    steps.set(step, s);
  }
  const stepText = ['blocked', 'held', 'approved', 'denied', 'timed out'].map((k) => {
    const s = steps.get(k) ?? { n: 0, by: new Set<string>() };
    const by = k === 'blocked' ? ' (by policy)' : k === 'held' ? '' : k === 'timed out' ? (s.n ? ' (no one decided)' : '') : s.by.size ? ` (by ${[...s.by].map(esc).join(', ')})` : '';
    return `<span data-step="${k}">${s.n} ${k}${by}</span>`;
  });
  out.write(`<dt>Blocks, holds, approvals, denials, timeouts</dt><dd id="answer-policy">${stepText.join(', ')}</dd>`);

  const details = revocationDetails(c, answers);
  const revocations = answers.gateway.filter((g) => g.action === 'revoked' || g.action === 'unrevoked');
  out.write('<dt>Revocations</dt><dd id="answer-revocations">');
  if (!revocations.length) out.write('none recorded (or the gateway\'s recording is not in the case)');
  for (const g of revocations) {
    const d = details.get(`${g.recording}#${g.seq}`);
    const after = answers.gateway.filter((x) => x.action === 'refused' && x.time >= g.time);
    const why = d?.reason ?? (g.message && g.message !== d?.subject ? g.message : null);
    out.write(`<div class="revocation">${esc(g.time)}: ${esc(d?.subject ?? g.message)} ${g.action === 'revoked' ? 'revoked' : 'revocation lifted'} by <b class="actor">${esc(g.actor ?? 'unknown')}</b>` +
      `${why ? `, because: ${esc(why)}` : ', no reason given'}` +
      (g.action === 'revoked' ? `; ${plural(d?.sessionsCut.length ?? 0, 'session')} cut${d?.sessionsCut.length ? ` (${d.sessionsCut.map(code).join(', ')})` : ''}` +
        `; ${plural(after.length, 'reconnect')} refused after it${after.length ? ` (${after.map((x) => `${esc(x.time)} ${esc(x.actor)} ${esc(x.rule)}`).join('; ')})` : ''}` : '') +
      '</div>');
  }
  out.write('</dd>');

  const bad = files.filter((f) => !fileOk(f));
  out.write(`<dt>Integrity of every file</dt><dd id="answer-integrity"><span class="${bad.length ? 'bad' : 'ok'}">${files.length - bad.length} of ${files.length} files intact, sealed and signed by a trusted key</span>`);
  for (const f of bad) out.write(`<br><span class="bad">${code(f.path)}: ${esc(f.integrity)}${f.sealed ? '' : ', not sealed'}${f.key_trusted ? '' : ', key NOT trusted'}</span>`);
  out.write('</dd></dl>');

  writeHopTable(out, hops);
}

/** A hop's time span, short enough for a table cell: the date, then start and end times of day. */
function spanOf(h: Pick<ChainHop, 'start' | 'end'>): string {
  const time = (iso: string | null) => `<span class="nowrap">${esc(iso ? iso.slice(11, 26) : '?')}</span>`;
  return `${esc(h.start?.slice(0, 10) ?? '')}<br>${time(h.start)}–<br>${time(h.end)}`;
}

/** Per hop: where it sits, what it ran, what it got back, what policy did, how it ended. */
function writeHopTable(out: { write(s: string): void }, hops: ChainHop[]): void {
  out.write('<h3>Per hop</h3><table class="hops"><tr><th>Session</th><th>Depth, parent, link</th><th>Identity → target</th><th>Time (UTC)</th><th title="statements">Stmts</th><th title="commands">Cmds</th>' +
    '<th>Blocked</th><th>Held</th><th>Approved</th><th>Denied</th><th>Timed out</th><th title="masked values">Masked</th><th title="unmasked sensitive values">Unmasked</th><th>Ended</th><th>Integrity</th></tr>');
  for (const h of hops) {
    const k = h.counts;
    const timeouts = h.decisions.filter((d) => d.action === 'timeout').length;
    const ok = isTrustworthy(h.integrity) && h.sealed;
    out.write(`<tr data-session="${esc(h.id)}"><td>${code(h.id)} ${esc(h.protocol)}</td><td>${h.depth}, ${h.parent ? `from ${shortCode(h.parent)} ${esc(h.link?.kind)}${h.link?.inferred ? ' (inferred)' : ''}` : 'root'}</td>` +
      `<td>${esc(h.identity)} → ${esc(h.target)}</td><td>${spanOf(h)}</td><td>${k.statements}</td><td>${k.commands}</td><td>${k.blocked}</td><td>${k.held}</td>` +
      `<td>${k.approved}</td><td>${k.denied - timeouts}</td><td>${timeouts}</td><td>${k.maskedValues}</td><td class="${k.unmaskedSensitive ? 'bad' : 'ok'}">${k.unmaskedSensitive}</td>` +
      `<td>${esc(h.ended.cause ?? 'not recorded')}${h.ended.actor ? ` by ${esc(h.ended.actor)}` : ''}${badgeHtml(h)}</td>` +
      `<td class="${ok ? 'ok' : 'bad'}">${esc(ok && h.integrity === 'intact' ? 'intact, sealed' : h.integrity)}</td></tr>`);
  }
  out.write('</table>');
}
