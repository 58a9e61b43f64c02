import { microsToIso } from '../../common/clock.js';
import { INTEGRITY_DESCRIPTIONS, isTrustworthy, type IntegrityState } from '../../common/recording/index.js';
import { buildChain, hopsOf, type Chain, type ChainHop } from '../chain/graph.js';
import { answersOf } from '../chain/render.js';
import { showSession } from '../replay/show.js';
import type { CaseFile } from '../store/case.js';
import type { FileSink } from './sink.js';

const MAX_TIMELINE_LINES = 2000;

/** The one description of an integrity word (older case files may hold words of before). */
function describeIntegrity(word: string): string {
  return INTEGRITY_DESCRIPTIONS[word as IntegrityState] ?? word;
}

export const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d2430}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccd;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#eef1f7}
.bad{color:#b00020;font-weight:600}.ok{color:#17653a}pre{background:#f6f7fa;padding:.75em;overflow:auto;font-size:12px}code{font-size:12px}
svg text{font:11px system-ui,sans-serif}`;

/** One self-contained post-mortem report (no scripts, no network): graph, answers, policy, masking, integrity, custody, timelines. */
export function writeHtml(c: CaseFile, out: FileSink, session?: string): number {
  const chain = buildChain(c, { session });
  const answers = answersOf(chain);
  const hops = [...hopsOf(chain)];
  out.write(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
  out.write(`<title>hopscope post-mortem</title><style>${STYLE}</style></head><body>`);
  out.write(`<h1>hopscope post-mortem report</h1><p>Case file <code>${esc(c.path)}</code>, generated ${esc(microsToIso(Date.now() * 1000))}; ${hops.length} sessions.</p>`);

  out.write('<h2>Who triggered the chain</h2><ul>');
  for (const t of answers.triggeredBy) out.write(`<li><b>${esc(t.identity)}</b>: ${t.hops} sessions, depth up to ${t.maxDepth}, from ${t.rootSessions.map((s) => `<code>${esc(s)}</code>`).join(', ')}</li>`);
  out.write('</ul>');
  out.write(`<h2>Chain graph</h2>${svgOf(chain)}`);

  out.write('<h2>Hops</h2><table><tr><th>Session</th><th>Parent / link</th><th>Identity → target</th><th>Time</th><th>Statements</th><th>Commands</th><th>Blocked</th><th>Held</th><th>Approved</th><th>Denied</th><th>Masked values</th><th>Unmasked sensitive</th><th>Integrity</th></tr>');
  for (const h of hops) {
    const k = h.counts;
    out.write(`<tr><td><code>${esc(h.id)}</code> ${esc(h.protocol)}</td><td>${h.parent ? `<code>${esc(h.parent)}</code> ${esc(h.link?.kind)}${h.link?.inferred ? ' (inferred)' : ''}` : 'root'}</td>` +
      `<td>${esc(h.identity)} → ${esc(h.target)}</td><td>${esc(h.start)}<br>${esc(h.end)}</td><td>${k.statements}</td><td>${k.commands}</td><td>${k.blocked}</td><td>${k.held}</td>` +
      `<td>${k.approved}</td><td>${k.denied}</td><td>${k.maskedValues}</td><td${k.unmaskedSensitive ? ' class="bad"' : ''}>${k.unmaskedSensitive}</td>${integrityCell(h)}</tr>`);
  }
  out.write('</table>');

  out.write('<h2>Blocked, held, approved and denied operations</h2>');
  if (!answers.policy.length) out.write('<p>None recorded.</p>');
  else {
    out.write('<table><tr><th>Time</th><th>Session</th><th>Action</th><th>Rule</th><th>Approval</th><th>By</th><th>Reason</th><th>Operation</th></tr>');
    for (const p of answers.policy) {
      out.write(`<tr><td>${esc(p.time)}</td><td><code>${esc(p.session)}</code></td><td>${esc(p.action)}</td><td>${esc(p.rule)}</td><td>${esc(p.approvalId)}</td>` +
        `<td>${esc(p.actor)}</td><td>${esc(p.message)}</td><td><code>${esc(p.statement)}</code></td></tr>`);
    }
    out.write('</table>');
  }

  out.write('<h2>How each session ended</h2><table><tr><th>Session</th><th>Cause</th><th>By</th><th>Reason</th></tr>');
  for (const e of answers.ends) {
    const cut = e.cause === 'revoked' || e.cause === 'ancestor-revoked';
    out.write(`<tr><td><code>${esc(e.session)}</code></td><td${cut ? ' class="bad"' : ''}>${esc(e.cause ?? 'not recorded')}</td><td>${esc(e.actor)}</td><td>${esc(e.reason)}</td></tr>`);
  }
  out.write('</table>');

  out.write('<h2>Refusals and revocations at the gateway</h2>');
  if (!answers.gateway.length) out.write('<p>None recorded (or the gateway\'s recording is not in the case).</p>');
  else {
    out.write('<table><tr><th>Time</th><th>Action</th><th>Code</th><th>By / who</th><th>Detail</th><th>Recording</th></tr>');
    for (const g of answers.gateway) {
      out.write(`<tr><td>${esc(g.time)}</td><td>${esc(g.action)}</td><td>${esc(g.rule)}</td><td>${esc(g.actor)}</td><td>${esc(g.message)}</td><td><code>${esc(g.recording)}</code></td></tr>`);
    }
    out.write('</table>');
  }

  out.write('<h2>Sensitive fields returned</h2>');
  if (!answers.sensitive.length) out.write('<p>None recorded.</p>');
  else {
    out.write('<table><tr><th>Session</th><th>To</th><th>Field</th><th>Rule</th><th>Masked</th><th>Values</th></tr>');
    for (const s of answers.sensitive) out.write(`<tr><td><code>${esc(s.session)}</code></td><td>${esc(s.identity)} → ${esc(s.target)}</td><td>${esc(s.field)}</td><td>${esc(s.rule)}</td><td class="${s.masked ? 'ok' : 'bad'}">${s.masked ? 'masked' : 'NOT masked'}</td><td>${s.count}</td></tr>`);
    out.write('</table>');
  }

  writeCustody(c, out, new Set(hops.map((h) => h.id)));

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

function integrityCell(h: ChainHop): string {
  const ok = isTrustworthy(h.integrity) && h.sealed;
  return `<td class="${ok ? 'ok' : 'bad'}" title="${esc(describeIntegrity(h.integrity))}">${esc(ok && h.integrity === 'intact' ? 'intact, sealed' : h.integrity)}</td>`;
}

function writeCustody(c: CaseFile, out: FileSink, sessions: Set<string>): void {
  const files = (c.db.prepare(`SELECT id, path, sha256, size, imported_at, session_id, key_id, key_trusted, integrity, sealed, events, intact_through, signed_through
    FROM files WHERE state = 'complete' ORDER BY imported_at, id`).all() as Record<string, string | number | null>[]).filter((f) => sessions.has(String(f.session_id)));
  out.write('<h2>Integrity and chain of custody</h2><table><tr><th>Recording</th><th>SHA-256</th><th>Bytes</th><th>Imported</th><th>Key</th><th>Integrity</th><th>Events</th><th>Findings</th></tr>');
  const findings = c.db.prepare('SELECT kind, seq, message FROM findings WHERE file_id = ?');
  for (const f of files) {
    const list = (findings.all(f.id) as { kind: string; seq: number | null; message: string }[]).map((x) => `${esc(x.kind)}${x.seq !== null ? ` (seq ${x.seq})` : ''}: ${esc(x.message)}`);
    const ok = isTrustworthy(String(f.integrity)) && f.sealed === 1;
    out.write(`<tr><td><code>${esc(f.path)}</code><br>session <code>${esc(f.session_id)}</code></td><td><code>${esc(f.sha256)}</code></td><td>${esc(f.size)}</td>` +
      `<td>${esc(microsToIso(Number(f.imported_at)))}</td><td>${esc(f.key_id)} ${f.key_trusted ? '(trusted)' : '<span class="bad">(NOT trusted)</span>'}</td>` +
      `<td class="${ok ? 'ok' : 'bad'}" title="${esc(describeIntegrity(String(f.integrity)))}">${esc(f.integrity)}${f.sealed ? ', sealed' : ''}; intact through seq ${esc(f.intact_through)}, signed through ${esc(f.signed_through)}</td>` +
      `<td>${esc(f.events)}</td><td>${list.join('<br>')}</td></tr>`);
  }
  out.write('</table><h3>Import log</h3><table><tr><th>Time</th><th>Action</th><th>Path</th><th>SHA-256</th><th>Detail</th></tr>');
  for (const r of c.db.prepare('SELECT at, action, path, sha256, detail FROM custody ORDER BY id').iterate() as Iterable<Record<string, string | number | null>>) {
    out.write(`<tr><td>${esc(microsToIso(Number(r.at)))}</td><td>${esc(r.action)}</td><td><code>${esc(r.path)}</code></td><td><code>${esc(r.sha256)}</code></td><td>${esc(r.detail)}</td></tr>`);
  }
  out.write('</table>');
}

/** The chain as an inline SVG: identities on the left, hops in columns by depth, dashed edges for inferred links. */
export function svgOf(chain: Chain): string {
  const W = 250, H = 58, GX = 60, GY = 16;
  const boxes: string[] = [];
  const lines: string[] = [];
  const pos = new Map<string, { x: number; y: number }>();
  let row = 0;
  const place = (h: ChainHop, col: number) => {
    const p = { x: 20 + (col + 1) * (W + GX), y: 20 + row * (H + GY) };
    pos.set(h.id, p);
    row++;
    const bad = !(isTrustworthy(h.integrity) && h.sealed);
    boxes.push(`<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6" fill="${bad ? '#fdecee' : '#f3f6fb'}" stroke="${bad ? '#b00020' : '#6b7a99'}"/>` +
      `<text x="${p.x + 8}" y="${p.y + 16}">${esc(`${h.protocol} ${h.identity ?? '?'} → ${h.target ?? '?'}`)}</text>` +
      `<text x="${p.x + 8}" y="${p.y + 31}">${esc(h.id)}</text>` +
      `<text x="${p.x + 8}" y="${p.y + 46}">${esc(`${h.counts.statements} stmts, ${h.counts.commands} cmds, ${h.counts.blocked} blocked, ${h.counts.maskedValues} masked${bad ? `, ${h.integrity}` : ''}`)}</text>`);
    for (const child of h.children) {
      place(child, col + 1);
      const q = pos.get(child.id)!;
      const label = `${child.link?.kind ?? ''}${child.link?.inferred ? ' (inferred)' : ''}`;
      lines.push(`<path d="M${p.x + W} ${p.y + H / 2} L${q.x} ${q.y + H / 2}" stroke="#334" fill="none"${child.link?.inferred ? ' stroke-dasharray="5 4"' : ''}/>` +
        `<text x="${p.x + W + 4}" y="${q.y + H / 2 - 4}">${esc(label)}</text>`);
    }
  };
  for (const root of chain.roots) {
    const y = 20 + row * (H + GY);
    boxes.push(`<ellipse cx="${20 + W / 2}" cy="${y + H / 2}" rx="${W / 2}" ry="${H / 2}" fill="#dde8ff" stroke="#334"/><text x="${40}" y="${y + H / 2 + 4}">identity ${esc(root.identity)}</text>`);
    for (const s of root.sessions) {
      const start = row;
      place(s, 0);
      const p = pos.get(s.id)!;
      lines.push(`<path d="M${20 + W} ${20 + start * (H + GY) + H / 2} L${p.x} ${p.y + H / 2}" stroke="#334" fill="none"/>`);
    }
  }
  const depth = Math.max(0, ...[...hopsOf(chain)].map((h) => h.depth));
  const width = 40 + (depth + 2) * (W + GX);
  const height = 40 + Math.max(1, row) * (H + GY);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="hop chain">${lines.join('')}${boxes.join('')}</svg>`;
}
