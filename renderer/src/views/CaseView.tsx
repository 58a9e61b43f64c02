import { useCallback, useEffect, useRef, useState } from 'react';
import type { CaseFileEntry, CaseInfo, ImportJob } from '../../../common/api/index.js';
import { api } from '../api.js';
import { IntegrityBadge } from '../components/Badges.js';
import { ImportProgress, useImportJob } from '../components/ImportProgress.js';
import { isTrustworthy, stateOf } from '../evidence.js';
import { bytes, shortId } from '../format.js';
import { href } from '../route.js';

/**
 * Open or create a case, import recordings (picker, drop or path) with progress, and the integrity of every file.
 * `announced`: an import started elsewhere (Electron's menu), whose progress is shown here too.
 */
export function CaseView({ info, onChanged, announced }: { info: CaseInfo | null; onChanged: () => void; announced?: string }) {
  const [path, setPath] = useState(info?.path ?? '');
  const [importPath, setImportPath] = useState('');
  const [files, setFiles] = useState<CaseFileEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const loadFiles = useCallback(() => {
    if (info?.path) api.files().then(setFiles, (err: Error) => setError(err.message));
  }, [info?.path]);
  useEffect(loadFiles, [loadFiles, info]);

  const { job, follow } = useImportJob(onChanged);
  useEffect(() => {
    if (announced) api.importStatus(announced).then(follow).catch((err: Error) => setError(err.message));
  }, [announced, follow]);

  const run = (p: Promise<ImportJob>) => {
    setError(null);
    p.then(follow).catch((err: Error) => setError(err.message));
  };
  const upload = async (list: FileList | File[]) => {
    const picked = [...list];
    if (picked.length === 0) return;
    run(Promise.all(picked.map(async (f) => ({ name: f.name, text: await f.text() }))).then((u) => api.importUpload(u)));
  };

  return (
    <div className="case-view">
      <section className="card">
        <h2>Case file</h2>
        <form className="row" onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          api.openCase(path).then(onChanged, (err: Error) => setError(err.message));
        }}>
          <input value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/incident.db (created if missing)" className="grow" data-testid="case-path" />
          <button type="submit">Open or create</button>
        </form>
        {info?.path && <p className="muted">{info.path}: {info.files} files, {info.sessions} sessions, {info.events.toLocaleString()} events</p>}
      </section>
      <section className={`card drop${over ? ' over' : ''}`} data-testid="drop-zone"
        onDragOver={(e) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)}
        onDrop={(e) => { e.preventDefault(); setOver(false); void upload(e.dataTransfer.files); }}>
        <h2>Import recordings</h2>
        <p>Drop recording files (<code>*.jsonl</code>) here, <button type="button" onClick={() => input.current?.click()} disabled={!info?.path}>pick files</button>,
          or give a file or folder on the workbench's machine:</p>
        <input ref={input} type="file" multiple accept=".jsonl" hidden data-testid="file-input" onChange={(e) => e.target.files && void upload(e.target.files)} />
        <form className="row" onSubmit={(e) => { e.preventDefault(); run(api.importPaths([importPath])); }}>
          <input value={importPath} onChange={(e) => setImportPath(e.target.value)} placeholder="/var/lib/hopscope/recordings" className="grow" data-testid="import-path" />
          <button type="submit" disabled={!info?.path || !importPath}>Import</button>
        </form>
        {job && <ImportProgress job={job} />}
        {error && <div className="error-banner" role="alert">{error}</div>}
      </section>
      <section className="card">
        <h2>Integrity per file <span className="muted">({files.length})</span></h2>
        <IntegritySummary files={files} />
        <table className="grid" data-testid="files-table">
          <thead><tr><th>integrity</th><th>session</th><th>protocol</th><th>events</th><th>size</th><th>key</th><th>sha256</th><th>file</th></tr></thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.sha256} data-testid="file-row">
                <td><IntegrityBadge integrity={f.integrity} sealed={f.sealed} />
                  {f.findings.map((x, i) => <div key={i} className="finding small">{x.kind}{x.seq !== null ? ` @${x.seq}` : ''}: {x.message}</div>)}</td>
                <td className="mono" title={f.session ?? ''}>{f.session
                  ? <a href={href({ view: 'hop', session: f.session })} data-testid="file-open">{f.protocol === 'gateway' ? 'gateway recording' : shortId(f.session)}</a> : '—'}</td>
                <td>{f.protocol}</td>
                <td>{f.events.toLocaleString()}</td>
                <td>{bytes(f.size)}</td>
                <td>{f.keyTrusted ? 'trusted' : <span className="badge bad">unknown key</span>}</td>
                <td className="mono small" title={f.sha256}>{f.sha256.slice(0, 16)}…</td>
                <td className="small" title={f.path}>{f.path.split('/').pop()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

function IntegritySummary({ files }: { files: CaseFileEntry[] }) {
  const by = new Map<string, number>();
  for (const f of files) {
    const k = stateOf(f.integrity, f.sealed);
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return (
    <p className="integrity-summary" data-testid="integrity-summary">
      {[...by].map(([k, n]) => <span key={k} className={`badge ${isTrustworthy(k) ? 'ok' : 'bad'}`}>{n} {k}</span>)}
    </p>
  );
}
