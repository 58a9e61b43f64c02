import { microsToIso } from '../../common/clock.js';
import { buildChain, hopsOf } from '../chain/graph.js';
import { answersOf } from '../chain/render.js';
import { showSession } from '../replay/show.js';
import type { CaseFile } from '../store/case.js';
import { writeAnswers } from './html-answers.js';
import { caseFiles, writeCustody } from './html-custody.js';
import { svgOf } from './html-graph.js';
import { esc, STYLE } from './html-style.js';
import { writeMergedTimeline } from './html-timeline.js';
import type { FileSink } from './sink.js';

export { esc } from './html-style.js';
export { endBadge, svgOf } from './html-graph.js';

const MAX_TIMELINE_LINES = 2000;

/**
 * One self-contained post-mortem report (no scripts, no network). It leads with the incident's
 * answers (the same `answersOf` that `chain --format json` prints) and a merged timeline of the
 * whole chain, then the graph, the policy decisions, how each hop ended, custody, and each hop's
 * own timeline with its output.
 */
export function writeHtml(c: CaseFile, out: FileSink, session?: string): number {
  const chain = buildChain(c, { session });
  const answers = answersOf(chain);
  const hops = [...hopsOf(chain)];
  const ids = new Set(hops.map((h) => h.id));
  const files = caseFiles(c, ids);
  out.write(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
  out.write(`<title>hopscope post-mortem</title><style>${STYLE}</style></head><body>`);
  out.write(`<h1>hopscope post-mortem report</h1><p>Case file <code>${esc(c.path)}</code>, generated ${esc(microsToIso(Date.now() * 1000))}; ${hops.length} sessions` +
    `${session ? `, the chain of <code>${esc(session)}</code>` : ''}.</p>`);

  writeAnswers(c, out, chain, answers, files);
  // A chain's timeline also carries the gateway's recordings: its revocations and refused reconnects.
  const gateway = files.filter((f) => !ids.has(f.session_id)).map((f) => f.session_id);
  writeMergedTimeline(c, out, session ? [...ids, ...gateway] : undefined);
  out.write(`<h2>Chain graph</h2>${svgOf(chain)}`);

  out.write('<h2>Blocked, held, approved, denied and timed-out operations</h2>');
  if (!answers.policy.length) out.write('<p>None recorded.</p>');
  else {
    out.write('<table><tr><th>Time</th><th>Session</th><th>Action</th><th>Rule</th><th>Approval</th><th>By</th><th>Reason</th><th>Operation</th></tr>');
    for (const p of answers.policy) {
      out.write(`<tr><td>${esc(p.time)}</td><td><code>${esc(p.session)}</code></td><td>${esc(p.action)}</td><td>${esc(p.rule)}</td><td>${esc(p.approvalId)}</td>` +
        `<td>${esc(p.actor ?? (p.action === 'timeout' ? 'no one (timed out)' : ''))}</td><td class="text">${esc(p.message)}</td><td><code>${esc(p.statement)}</code></td></tr>`);
    }
    out.write('</table>');
  }

  out.write('<h2>How each session ended</h2><table class="ends"><tr><th>Session</th><th>Cause</th><th>By</th><th>Reason</th></tr>');
  for (const e of answers.ends) {
    const cut = e.cause === 'revoked' || e.cause === 'ancestor-revoked';
    out.write(`<tr data-session="${esc(e.session)}"><td><code>${esc(e.session)}</code></td><td${cut ? ' class="bad"' : ''}>${esc(e.cause ?? 'not recorded')}</td><td class="by">${esc(e.actor)}</td><td class="text">${esc(e.reason)}</td></tr>`);
  }
  out.write('</table>');

  out.write('<h2>Refusals and revocations at the gateway</h2>');
  if (!answers.gateway.length) out.write('<p>None recorded (or the gateway\'s recording is not in the case).</p>');
  else {
    out.write('<table><tr><th>Time</th><th>Action</th><th>Code</th><th>By / who</th><th>Detail</th><th>Recording</th></tr>');
    for (const g of answers.gateway) {
      out.write(`<tr><td>${esc(g.time)}</td><td>${esc(g.action)}</td><td>${esc(g.rule)}</td><td>${esc(g.actor)}</td><td class="text">${esc(g.message)}</td><td><code>${esc(g.recording)}</code></td></tr>`);
    }
    out.write('</table>');
  }

  out.write('<h2>Sensitive fields returned</h2>');
  if (!answers.sensitive.length) out.write('<p>None recorded.</p>');
  else {
    out.write('<table><tr><th>Session</th><th>To</th><th>Field</th><th>Rule</th><th>Masked</th><th>Values</th></tr>');
    for (const s of answers.sensitive) {
      out.write(`<tr><td><code>${esc(s.session)}</code></td><td>${esc(s.identity)} → ${esc(s.target)}</td><td>${esc(s.field)}</td><td>${esc(s.rule)}</td>` +
        `<td class="${s.masked ? 'ok' : 'bad'}">${s.masked ? 'masked' : 'NOT masked'}</td><td>${s.count}</td></tr>`);
    }
    out.write('</table>');
  }

  writeCustody(c, out, files);

  out.write('<h2>Per-hop timelines</h2>');
  for (const h of hops) {
    out.write(`<details open><summary><code>${esc(h.id)}</code> ${esc(h.protocol)} ${esc(h.identity)} → ${esc(h.target)}</summary><pre>`);
    let n = 0;
    for (const line of showSession(c, h.id)) {
      if (++n > MAX_TIMELINE_LINES) {
        out.write(esc(`… truncated after ${MAX_TIMELINE_LINES} lines; see \`hopscope show --session ${h.id}\`\n`));
        break;
      }
      out.write(`${esc(line)}\n`);
    }
    out.write('</pre></details>');
  }
  out.write('</body></html>\n');
  return hops.length;
}
