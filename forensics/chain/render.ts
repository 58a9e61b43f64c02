import type { CaseAnswers } from '../../common/api/index.js';
import { hopsOf, type Chain, type ChainHop } from './graph.js';

/** The incident's questions, answered from the chain (DESIGN.md, "The questions it must answer"); the shape is the workbench API's. */
export type ChainAnswers = CaseAnswers;

export function answersOf(chain: Chain): ChainAnswers {
  const hops = [...hopsOf(chain)];
  return {
    triggeredBy: chain.roots.map((r) => {
      const tree = r.sessions.flatMap((s) => [...hopsOf({ roots: [{ identity: r.identity, sessions: [s] }], edges: [], gateway: [] })]);
      return { identity: r.identity, rootSessions: r.sessions.map((s) => s.id), hops: tree.length, maxDepth: Math.max(0, ...tree.map((h) => h.depth)) };
    }),
    commands: hops.map((h) => ({ session: h.id, identity: h.identity, target: h.target, depth: h.depth, statements: h.counts.statements, commands: h.counts.commands })),
    sensitive: hops.flatMap((h) => h.sensitive.map((s) => ({ session: h.id, identity: h.identity, target: h.target, ...s }))),
    policy: hops.flatMap((h) => h.decisions.map((d) => ({ session: h.id, ...d }))),
    integrity: hops.map((h) => ({ session: h.id, integrity: h.integrity, sealed: h.sealed })),
    ends: hops.map((h) => ({ session: h.id, ...h.ended })),
    gateway: chain.gateway,
  };
}

export function chainJson(chain: Chain): string {
  return `${JSON.stringify({ ...chain, answers: answersOf(chain) }, null, 2)}\n`;
}

function span(h: ChainHop): string {
  const t = (iso: string | null) => (iso ? iso.slice(11, 26) : '?');
  return `${h.start?.slice(0, 10) ?? ''} ${t(h.start)}–${t(h.end)}`;
}

function summary(h: ChainHop): string {
  const c = h.counts;
  const parts = [`${c.statements} statements`, `${c.commands} commands`];
  if (c.blocked) parts.push(`${c.blocked} blocked`);
  if (c.held) parts.push(`${c.held} held`);
  if (c.approved) parts.push(`${c.approved} approved`);
  if (c.denied) parts.push(`${c.denied} denied`);
  if (c.maskedValues) parts.push(`${c.maskedValues} masked values`);
  if (c.unmaskedSensitive) parts.push(`${c.unmaskedSensitive} UNMASKED sensitive values`);
  return parts.join(', ');
}

function integrityLabel(h: ChainHop): string {
  return h.integrity === 'intact' && h.sealed ? 'intact' : h.integrity.toUpperCase();
}

export function chainText(chain: Chain): string {
  const out: string[] = [];
  const walk = (h: ChainHop, prefix: string, last: boolean) => {
    const link = h.link ? `[${h.link.kind}${h.link.inferred ? ', inferred' : ''}${h.link.parentMissing ? ', parent not in case' : ''}] ` : '';
    out.push(`${prefix}${last ? '└─ ' : '├─ '}${link}${h.id}  ${h.protocol} ${h.identity ?? '?'} → ${h.target ?? '?'}  ${span(h)}  ${integrityLabel(h)}`);
    const inner = prefix + (last ? '   ' : '│  ');
    out.push(`${inner}${h.children.length ? '│' : ' '}  ${summary(h)}`);
    if (h.link?.inferred && h.link.evidence) out.push(`${inner}${h.children.length ? '│' : ' '}  evidence: ${JSON.stringify(h.link.evidence)}`);
    if (h.ended.cause) out.push(`${inner}${h.children.length ? '│' : ' '}  ended: ${endText(h.ended)}`);
    h.children.forEach((c, i) => walk(c, inner, i === h.children.length - 1));
  };
  for (const root of chain.roots) {
    out.push(`identity ${root.identity}`);
    root.sessions.forEach((s, i) => walk(s, '', i === root.sessions.length - 1));
    out.push('');
  }
  if (chain.roots.length === 0) out.push('no sessions in the case file');
  if (chain.gateway.length) {
    out.push('', 'gateway');
    for (const g of chain.gateway) out.push(`  ${g.time}  ${g.action}${g.rule ? ` ${g.rule}` : ''}${g.actor ? ` (${g.actor})` : ''}${g.message ? `: ${g.message}` : ''}`);
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** `revoked by alice: revoked: identity bob`. */
export function endText(e: ChainHop['ended']): string {
  return `${e.cause ?? 'unknown'}${e.actor ? ` by ${e.actor}` : ''}${e.reason ? `: ${e.reason}` : ''}`;
}

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

export function chainDot(chain: Chain): string {
  const out = ['digraph hopscope {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];'];
  const nodes = new Set<string>();
  const node = (id: string, attrs: string) => {
    if (!nodes.has(id)) out.push(`  ${quote(id)} [${attrs}];`);
    nodes.add(id);
  };
  for (const h of hopsOf(chain)) {
    node(h.id, `shape=box, label=${quote(`${h.protocol} ${h.id}\n${h.identity ?? '?'} → ${h.target ?? '?'}\n${summary(h)}\n${integrityLabel(h)}`)}${h.integrity === 'intact' ? '' : ', color=red'}`);
  }
  for (const e of chain.edges) {
    if (e.from.startsWith('identity:')) node(e.from, `shape=ellipse, style=filled, fillcolor="#dde8ff", label=${quote(e.from.slice(9))}`);
    if (e.to.startsWith('target:')) node(e.to, `shape=cylinder, label=${quote(e.to.slice(7))}`);
    if (!nodes.has(e.from)) node(e.from, `shape=box, style=dashed, label=${quote(`${e.from}\n(not in case)`)}`);
    out.push(`  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(e.kind)}${e.inferred ? ', style=dashed' : ''}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

export function chainMermaid(chain: Chain): string {
  const ids = new Map<string, string>();
  const id = (key: string) => {
    if (!ids.has(key)) ids.set(key, `n${ids.size}`);
    return ids.get(key)!;
  };
  const text = (s: string) => s.replace(/"/g, '#quot;').replace(/[<>]/g, (ch) => (ch === '<' ? '#lt;' : '#gt;'));
  const out = ['flowchart LR'];
  for (const h of hopsOf(chain)) {
    const label = [`${h.protocol} ${h.id}`, `${h.identity ?? '?'} → ${h.target ?? '?'}`, summary(h), integrityLabel(h)].map(text).join('<br/>');
    out.push(`  ${id(h.id)}["${label}"]`);
  }
  for (const e of chain.edges) {
    if (e.from.startsWith('identity:') && !ids.has(e.from)) out.push(`  ${id(e.from)}(["${text(e.from.slice(9))}"])`);
    if (e.to.startsWith('target:') && !ids.has(e.to)) out.push(`  ${id(e.to)}[("${text(e.to.slice(7))}")]`);
    if (!ids.has(e.from)) out.push(`  ${id(e.from)}["${text(`${e.from} (not in case)`)}"]`);
    out.push(`  ${id(e.from)} ${e.inferred ? '-.->' : '-->'}|${text(e.kind)}| ${id(e.to)}`);
  }
  return `${out.join('\n')}\n`;
}
