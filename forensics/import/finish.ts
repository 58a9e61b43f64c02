import type Database from 'better-sqlite3';
import type { VerifyReport } from '../../common/recording/index.js';
import type { SessionFacts } from './derive.js';

/** What custody records of the bytes imported: known once the last one is read. */
export interface FileFacts {
  sha256: string;
  size: number;
}

/**
 * The last transaction of a file's import: integrity and custody facts, the
 * session row, identities, targets and the hop edge, then lineage (root
 * identity and depth) of the sessions it touches, since a parent may arrive after its children.
 */
export function finishSession(db: Database.Database, fileId: number, f: SessionFacts, report: VerifyReport, file: FileFacts): void {
  db.transaction(() => {
    db.prepare(`UPDATE files SET sha256 = ?, size = ?, integrity = ?, sealed = ?, events = ?, last_seq = ?, intact_through = ?, signed_through = ?,
      state = 'complete' WHERE id = ?`).run(file.sha256, file.size, report.status, report.sealed ? 1 : 0, report.events, report.lastSeq,
      report.intactThroughSeq, report.signedThroughSeq, fileId);
    // Events are stored as they stream, flagged by the chain so far; a break found later (an event
    // altered is seen at the next one's link, a bad signature voids what it covered) takes back the flag.
    db.prepare('UPDATE events SET intact = 0 WHERE session = ? AND seq > ? AND intact = 1').run(f.id, report.intactThroughSeq);
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
    refreshLineage(db, f.id);
  })();
}

/**
 * Root identity and hop depth of a session and of every session below it (the
 * only ones an arriving session can change), walking parent links. A parent that
 * is not in the case still counts as a hop (depth), and the root identity is then
 * the identity of the oldest session present. The gateway's own recordings are
 * not part of any chain.
 */
export function refreshLineage(db: Database.Database, session: string): void {
  const below = db.prepare(`WITH RECURSIVE below(id) AS (SELECT ? UNION SELECT s.id FROM sessions s JOIN below b ON s.parent = b.id)
    SELECT s.id, s.parent, s.identity, s.root_identity, s.depth FROM sessions s JOIN below b ON b.id = s.id WHERE s.protocol != 'gateway'`)
    .all(session) as LineageRow[];
  const one = db.prepare("SELECT id, parent, identity, root_identity, depth FROM sessions WHERE id = ? AND protocol != 'gateway'");
  const byId = new Map<string, LineageRow | null>(below.map((r) => [r.id, r]));
  const get = (id: string) => {
    let r = byId.get(id);
    if (r === undefined) byId.set(id, (r = (one.get(id) as LineageRow | undefined) ?? null));
    return r;
  };
  const update = db.prepare('UPDATE sessions SET root_identity = ?, depth = ? WHERE id = ?');
  for (const r of below) {
    let depth = 0;
    let top = r;
    const seen = new Set([r.id]);
    while (top.parent) {
      depth++;
      const up = get(top.parent);
      if (!up || seen.has(up.id)) break;
      seen.add(up.id);
      top = up;
    }
    if (top.identity !== r.root_identity || depth !== r.depth) update.run(top.identity, depth, r.id);
  }
}

interface LineageRow {
  id: string;
  parent: string | null;
  identity: string | null;
  root_identity: string | null;
  depth: number;
}
