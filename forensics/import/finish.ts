import type Database from 'better-sqlite3';
import type { VerifyReport } from '../../common/recording/index.js';
import type { SessionIndexer } from './derive.js';

/**
 * The last transaction of a file's import: integrity and custody facts, the
 * session row, identities, targets and the hop edge, then lineage (root
 * identity and depth) for every session, since a parent may arrive after its children.
 */
export function finishSession(db: Database.Database, fileId: number, indexer: SessionIndexer, report: VerifyReport): void {
  const f = indexer.facts;
  db.transaction(() => {
    db.prepare(`UPDATE files SET integrity = ?, sealed = ?, events = ?, last_seq = ?, intact_through = ?, signed_through = ?, state = 'complete'
      WHERE id = ?`).run(report.status, report.sealed ? 1 : 0, report.events, report.lastSeq, report.intactThroughSeq, report.signedThroughSeq, fileId);
    const finding = db.prepare('INSERT INTO findings(file_id, kind, line, seq, message) VALUES (?, ?, ?, ?, ?)');
    for (const x of report.findings) finding.run(fileId, x.kind, x.line, x.seq ?? null, x.message);
    db.prepare(`UPDATE sessions SET identity = ?, token_id = ?, token_kind = ?, target = ?, client = ?, start_t = coalesce(?, start_t),
      end_t = ?, end_reason = ?, parent = ?, link_kind = ?, integrity = ?, cols = ?, rows = ?, terminal_channel = ?, start_data = ? WHERE id = ?`)
      .run(f.identity, f.tokenId, f.tokenKind, f.target, f.client, f.start, f.end, f.endReason, f.parent, f.linkKind, report.status,
        f.cols, f.rows, f.terminalChannel, f.startData, f.id);
    db.prepare('INSERT INTO statements_fts(rowid, text) SELECT id, text FROM statements WHERE session = ?').run(f.id);
    if (f.identity) db.prepare('INSERT INTO identities(name, kind) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET kind = coalesce(excluded.kind, kind)').run(f.identity, f.identityKind);
    if (f.target) db.prepare('INSERT OR IGNORE INTO targets(name, protocol) VALUES (?, ?)').run(f.target, f.protocol);
    if (f.parent && f.linkKind) {
      db.prepare('INSERT OR REPLACE INTO hops(child, parent, link_kind, inferred, evidence) VALUES (?, ?, ?, ?, ?)')
        .run(f.id, f.parent, f.linkKind, f.inferred ? 1 : 0, f.evidence === null ? null : JSON.stringify(f.evidence));
    }
    refreshLineage(db);
  })();
}

/**
 * Root identity and hop depth of every session, walking parent links. A parent
 * that is not in the case still counts as a hop (depth), and the root identity
 * is then the identity of the oldest session present.
 */
export function refreshLineage(db: Database.Database): void {
  const rows = db.prepare("SELECT id, parent, identity, root_identity, depth FROM sessions WHERE protocol != 'gateway'").all() as
    { id: string; parent: string | null; identity: string | null; root_identity: string | null; depth: number }[];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const update = db.prepare('UPDATE sessions SET root_identity = ?, depth = ? WHERE id = ?');
  for (const r of rows) {
    let depth = 0;
    let top = r;
    const seen = new Set([r.id]);
    while (top.parent) {
      depth++;
      const up = byId.get(top.parent);
      if (!up || seen.has(up.id)) break;
      seen.add(up.id);
      top = up;
    }
    if (top.identity !== r.root_identity || depth !== r.depth) update.run(top.identity, depth, r.id);
  }
}
