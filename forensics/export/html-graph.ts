import { isTrustworthy } from '../../common/recording/index.js';
import { hopsOf, type Chain, type ChainHop } from '../chain/graph.js';
import { esc } from './html-style.js';

/** The badge a hop's box carries for how it ended: revoked (its identity or token was), cut (an ancestor was revoked). */
export function endBadge(h: Pick<ChainHop, 'ended'>): 'revoked' | 'cut' | null {
  if (h.ended.cause === 'revoked') return 'revoked';
  if (h.ended.cause === 'ancestor-revoked') return 'cut';
  return null;
}

const BADGE_TITLE = { revoked: 'ended by a revocation', cut: 'cut: an ancestor session was revoked' } as const;

/**
 * The chain as an inline SVG: identities on the left, hops in columns by depth, dashed edges for
 * inferred links, a red REVOKED / CUT badge on hops a revocation ended. The SVG scales down to the
 * page's width (CSS max-width) rather than running past it.
 */
export function svgOf(chain: Chain): string {
  const W = 250, H = 58, GX = 60, GY = 16, BW = 62;
  const boxes: string[] = [];
  const lines: string[] = [];
  const pos = new Map<string, { x: number; y: number }>();
  let row = 0;
  const place = (h: ChainHop, col: number) => {
    const p = { x: 20 + (col + 1) * (W + GX), y: 20 + row * (H + GY) };
    pos.set(h.id, p);
    row++;
    const bad = !(isTrustworthy(h.integrity) && h.sealed);
    const badge = endBadge(h);
    boxes.push(`<g class="hop${badge ? ` ${badge}` : ''}" data-session="${esc(h.id)}"><title>${esc(`${h.id}${badge ? `: ${BADGE_TITLE[badge]}` : ''}`)}</title>` +
      `<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6" fill="${bad ? '#fdecee' : '#f3f6fb'}" stroke="${bad || badge ? '#b00020' : '#6b7a99'}"${badge ? ' stroke-width="2"' : ''}/>` +
      `<text x="${p.x + 8}" y="${p.y + 16}">${esc(`${h.protocol} ${h.identity ?? '?'} → ${h.target ?? '?'}`)}</text>` +
      `<text x="${p.x + 8}" y="${p.y + 31}">${esc(h.id)}</text>` +
      `<text x="${p.x + 8}" y="${p.y + 46}">${esc(`${h.counts.statements} stmts, ${h.counts.commands} cmds, ${h.counts.blocked} blocked, ${h.counts.maskedValues} masked${bad ? `, ${h.integrity}` : ''}`)}</text>` +
      (badge ? `<rect x="${p.x + W - BW - 4}" y="${p.y - 8}" width="${BW}" height="16" rx="8" fill="#b00020"/>` +
        `<text class="badge" x="${p.x + W - BW / 2 - 4}" y="${p.y + 4}" text-anchor="middle" fill="#fff">${badge.toUpperCase()}</text>` : '') +
      '</g>');
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
