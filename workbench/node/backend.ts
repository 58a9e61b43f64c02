import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve, sep } from 'node:path';
import type {
  CaseAnswers, CaseFileEntry, ChainTimeline, CaseInfo, ExchangePage, ExportRequest, ExportResult, FleetStatus, GatewayApproval, GatewayRevocation, GatewaySession, GatewayTarget, GraphData, HopDetail, ImportJob,
  LocalGatewayStatus, RemoteGateway, Screen, SessionQuery, SessionRow, SessionSearch, TerminalChunks, UploadFile, WorkbenchApi,
} from '../../common/api/index.js';
import type { TrustedKeys } from '../../common/keys.js';
import {
  answersOf, applyJournals, buildChain, caseCounts, chainTimeline, exchangePage, fileEntries, findRecordings, gatewayDetail, gatewayPage,
  gatewayRows, hopDetail, hopLinks, importFile, openCase, screenAt, searchStatements, sessionFactMatches, sessionRows, terminalChunks,
  type CaseFile, type EvidenceRow, type FileImport,
} from '../../forensics/index.js';
import { ApiError } from '../common/contract.js';
import { packageRoot } from './paths.js';
import { exportFiltered } from './export.js';
import { GatewayClient } from './gateway-client.js';
import { LocalGateway } from './local-gateway.js';

export interface BackendOptions {
  /** The case file to open at start (created if missing). */
  db?: string;
  trusted: TrustedKeys;
  /** Where uploads and exports are written (a private temporary folder). */
  workDir: string;
  /** Hands an export to the user: a download link in the browser, a save dialog in Electron. */
  deliver: (file: string, fileName: string) => Promise<Pick<ExportResult, 'href' | 'savedTo'>>;
  fetch?: typeof fetch;
  /** Where the local gateway's log and run record live (default $HOPSCOPE_STATE_DIR or ~/.hopscope). */
  stateDir?: string;
}

/** The workbench API over the forensic library; one per window or web server. */
export class CaseBackend implements WorkbenchApi {
  private current: CaseFile | undefined;
  private rows: EvidenceRow[] | undefined;
  private readonly jobs = new Map<string, ImportJob>();
  private readonly gateway: GatewayClient;
  private local: LocalGateway | undefined;
  private importing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: BackendOptions) {
    mkdirSync(opts.workDir, { recursive: true, mode: 0o700 });
    if (opts.db) this.current = openCase(opts.db);
    this.warm();
    this.gateway = new GatewayClient(opts.fetch ?? fetch);
  }

  /** Computes the session rows (about a second for 5,000 sessions) before the UI first asks. */
  private warm(): void {
    setImmediate(() => {
      try {
        if (this.current) this.allRows();
      } catch {
        // the UI's own request reports the error
      }
    });
  }

  close(): void {
    this.current?.close();
    this.current = undefined;
  }

  private get case(): CaseFile {
    if (!this.current) throw new ApiError('NO_CASE', 'no case file is open: open or create one first');
    return this.current;
  }

  private allRows(): EvidenceRow[] {
    this.rows ??= sessionRows(this.case);
    return this.rows;
  }

  /** A session, or a gateway's own recording (not in the session list or the graph, but opened in the hop view all the same). */
  private row(id: string): SessionRow {
    const r = this.allRows().find((s) => s.id === id) ?? gatewayRows(this.case).find((s) => s.id === id);
    if (!r) throw new ApiError('SESSION_UNKNOWN', `no session ${id} in this case`);
    return r;
  }

  async caseInfo(): Promise<CaseInfo> {
    if (!this.current) return { path: null, sessions: 0, files: 0, events: 0 };
    return { path: this.current.path, ...caseCounts(this.current) };
  }

  async openCase(path: string): Promise<CaseInfo> {
    if (!path.trim()) throw new ApiError('BAD_REQUEST', 'give the path of a case file');
    const next = openCase(path);
    this.close();
    this.current = next;
    this.rows = undefined;
    this.warm();
    return this.caseInfo();
  }

  async files(): Promise<CaseFileEntry[]> {
    return fileEntries(this.case);
  }

  async importPaths(paths: string[]): Promise<ImportJob> {
    let files: string[];
    try {
      files = findRecordings(paths);
    } catch (err) {
      throw new ApiError('IMPORT_PATH', (err as Error).message);
    }
    return this.startImport(files, this.opts.trusted, paths);
  }

  async importUpload(uploads: UploadFile[]): Promise<ImportJob> {
    const dir = join(this.opts.workDir, `upload-${randomBytes(6).toString('hex')}`);
    mkdirSync(dir, { mode: 0o700 });
    const files = uploads.map((u, i) => {
      const path = join(dir, `${String(i).padStart(4, '0')}-${basename(u.name)}`);
      writeFileSync(path, u.text, { mode: 0o600 });
      return path;
    });
    return this.startImport(files);
  }

  async importStatus(id: string): Promise<ImportJob> {
    const job = this.jobs.get(id);
    if (!job) throw new ApiError('IMPORT_UNKNOWN', `no import ${id}`);
    return { ...job, results: [...job.results] };
  }

  /** Imports run one at a time (one writer); the job is polled for progress. */
  /**
   * `roots`: the folders or files asked for; their gateways' journals of
   * sessions are checked once every file is in (missing, unlisted, rewritten),
   * as `hopscope import` does.
   */
  private startImport(files: string[], trusted = this.opts.trusted, roots: readonly string[] = []): ImportJob {
    const c = this.case;
    const job: ImportJob = {
      id: randomBytes(8).toString('hex'), state: 'running', filesTotal: files.length, filesDone: 0, current: null,
      bytesRead: 0, bytesTotal: 0, events: 0, results: [], message: null,
    };
    this.jobs.set(job.id, job);
    this.importing = this.importing.then(async () => {
      try {
        const done: FileImport[] = [];
        for (const path of files) {
          job.current = path;
          const r = await importFile(c, path, {
            trusted,
            onProgress: (p) => Object.assign(job, { bytesRead: p.bytesRead, bytesTotal: p.bytesTotal }),
          });
          done.push(r);
          job.results.push(resultOf(r));
          job.events += r.action === 'imported' ? r.events : 0;
          job.filesDone++;
          this.rows = undefined;
        }
        if (roots.length > 0) {
          job.current = null;
          await applyJournals(c, roots, done, { trusted });
          job.results = done.map(resultOf);
        }
        job.state = 'done';
      } catch (err) {
        job.state = 'failed';
        job.message = (err as Error).message;
      } finally {
        job.current = null;
        this.rows = undefined;
      }
    });
    return { ...job };
  }

  async sessions(query: SessionQuery): Promise<SessionSearch> {
    const rows = this.allRows();
    // The gateways' own recordings ride along (not sessions: no hop, no chain), for the list that opens them.
    if (!query.text?.trim()) return { sessions: rows, matches: [], ...{ gatewayRecordings: gatewayRows(this.case) } };
    const matches = searchStatements(this.case, query.text);
    // Who a session is and what happened in it (approver, revoked, cut, denied, timed out…), besides the commands' text.
    const facts = sessionFactMatches(this.case, rows, query.text);
    const hit = new Set([...matches, ...facts].map((m) => m.session));
    return { sessions: rows.filter((r) => hit.has(r.id)), matches: [...facts, ...matches] };
  }

  async graph(): Promise<GraphData> {
    const hops = this.allRows();
    const ids = new Set(hops.map((h) => h.id));
    const identities = [...new Set(hops.filter((h) => !h.parent || !ids.has(h.parent)).map((h) => h.identity ?? '(unknown identity)'))];
    return { identities, hops, links: hopLinks(this.case) };
  }

  async answers(session: string | null): Promise<CaseAnswers> {
    if (session !== null) this.row(session); // SESSION_UNKNOWN for a name the case does not hold
    return answersOf(buildChain(this.case, session === null ? {} : { session }));
  }

  async chainTimeline(session: string | null): Promise<ChainTimeline> {
    if (session !== null) this.row(session);
    return chainTimeline(this.case, session);
  }

  async hop(session: string): Promise<HopDetail> {
    const row = this.row(session);
    return row.protocol === 'gateway' ? gatewayDetail(this.case, row) : hopDetail(this.case, row, this.allRows());
  }

  async hopExchanges(session: string, fromSeq: number, limit: number): Promise<ExchangePage> {
    const row = this.row(session);
    return row.protocol === 'gateway' ? gatewayPage(this.case, session, fromSeq, limit) : exchangePage(this.case, session, fromSeq, limit);
  }

  async screenAt(session: string, time: number): Promise<Screen> {
    const s = await screenAt(this.case, session, time);
    return { session: s.session, time: s.time, seq: s.seq, t: s.t, cols: s.cols, rows: s.rows, lines: s.lines, serialized: s.serialized };
  }

  async terminalEvents(session: string, afterSeq: number, limit: number): Promise<TerminalChunks> {
    this.row(session);
    return terminalChunks(this.case, session, afterSeq, limit);
  }

  async exportCase(request: ExportRequest): Promise<ExportResult> {
    for (const s of request.sessions ?? []) this.row(s);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
    const path = join(this.opts.workDir, `export-${randomBytes(8).toString('hex')}`);
    const out = exportFiltered(this.case, request, path, stamp);
    return { fileName: out.fileName, records: out.records, bytes: out.bytes, ...(await this.opts.deliver(out.file, out.fileName)) };
  }

  gatewaySessions(target: GatewayTarget): Promise<GatewaySession[]> {
    return this.gateway.sessions(this.remote(target, 'admin'));
  }

  gatewayApprovals(target: GatewayTarget): Promise<GatewayApproval[]> {
    return this.gateway.approvals(this.remote(target, 'approve'));
  }

  /** Needs the admin token: a local gateway's is resolved here; a remote one connected with an approver's token is refused. */
  gatewayFleet(target: GatewayTarget): Promise<FleetStatus | null> {
    return this.gateway.fleet(this.remote(target, 'admin'));
  }

  gatewayDecide(target: GatewayTarget, id: string, decision: 'approve' | 'deny', reason: string): Promise<{ ok: true }> {
    return this.gateway.decide(this.remote(target, 'approve'), id, decision, reason);
  }

  gatewayRevoke(target: GatewayTarget, by: 'identity' | 'tokenId', value: string): Promise<{ ok: true }> {
    return this.gateway.revoke(this.remote(target, 'admin'), by, value);
  }

  gatewayUnrevoke(target: GatewayTarget, by: 'identity' | 'tokenId', value: string): Promise<{ lifted: GatewayRevocation[] }> {
    return this.gateway.unrevoke(this.remote(target, 'admin'), by, value);
  }

  async localGatewayStart(configPath: string): Promise<LocalGatewayStatus> {
    // The page can write files here (uploads); a config it wrote could send local secrets to a host of its choosing.
    const path = resolve(configPath.trim());
    if (path === resolve(this.opts.workDir) || path.startsWith(resolve(this.opts.workDir) + sep)) {
      throw new ApiError('LOCAL_GATEWAY_CONFIG', 'a gateway config cannot come from the workbench\'s upload folder');
    }
    return this.localGateway.start(path);
  }

  async localGatewayStatus(): Promise<LocalGatewayStatus> {
    return this.localGateway.status();
  }

  async localGatewayStop(): Promise<LocalGatewayStatus> {
    return this.localGateway.stop();
  }

  async localGatewayImport(): Promise<ImportJob> {
    const { dir, trusted } = this.localGateway.recordings();
    const files = findRecordings([dir]);
    return this.startImport(files, new Map([...this.opts.trusted, ...trusted]));
  }

  /** Created on first use: it looks for a gateway an earlier workbench left running. */
  private get localGateway(): LocalGateway {
    this.local ??= new LocalGateway({
      stateDir: this.opts.stateDir ?? process.env.HOPSCOPE_STATE_DIR ?? join(homedir(), '.hopscope'),
      launcher: join(packageRoot(), 'bin', 'hopscope'),
    });
    return this.local;
  }

  private remote(target: GatewayTarget, purpose: 'admin' | 'approve'): RemoteGateway {
    return 'local' in target ? this.localGateway.remote(target, purpose) : target;
  }
}

/** One file's import as the API reports it; `missing` (listed in a journal, file absent) is passed on as the importer says it. */
function resultOf(r: FileImport): ImportJob['results'][number] {
  return { path: r.path, action: r.action, session: r.session, integrity: r.integrity, sealed: r.sealed, events: r.events, message: r.message };
}
