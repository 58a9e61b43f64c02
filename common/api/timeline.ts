/** What a row of the chain timeline is. */
export type TimelineKind = 'start' | 'end' | 'command' | 'statement' | 'policy' | 'approval' | 'masked' | 'revocation' | 'refused';

/** One row of the chain timeline: an event of any hop of the chain (or of the gateway's own recording), in time order. */
export interface ChainTimelineRow {
  session: string;
  seq: number;
  /** µs */
  t: number;
  kind: TimelineKind;
  identity: string | null;
  target: string | null;
  protocol: string;
  depth: number;
  /** One line: what happened (the command, the statement, the decision). */
  text: string;
  /** Policy actions decided on this event (block, review, approved, denied, timeout, revoked), `;`-joined. */
  policy: string | null;
  /** Who decided (approver, revoker), `;`-joined. */
  actor: string | null;
  /** Child hops whose session started after this command and before the parent's next one: what it most likely opened (by time). */
  opened?: string[];
  /** On a child hop's start: the parent's command that opened it (by time). */
  openedBy?: { session: string; seq: number };
  /** On a command or statement: what came back, in one short line (as the hop view pairs it, typed-ahead lines included). */
  response?: string;
}

export interface ChainTimeline {
  rows: ChainTimelineRow[];
  /** More rows than `rows` holds (the first ones are given). */
  truncated: boolean;
}
