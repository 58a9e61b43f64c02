import { useState } from 'react';
import type { ExportFormat, ExportResult, SessionRow } from '../../../common/api/index.js';
import { api, appBase } from '../api.js';
import { FilterBar } from '../components/FilterBar.js';
import { bytes, isFiltered, matches, shortId, type Filter } from '../format.js';

const FORMATS: { format: ExportFormat; label: string; note: string }[] = [
  { format: 'timesketch', label: 'Timesketch (JSONL)', note: 'message, datetime, timestamp_desc + hop fields' },
  { format: 'csv', label: 'Timesketch CSV', note: 'the same columns as CSV' },
  { format: 'jsonl', label: 'JSONL events', note: 'every recorded event with its session facts' },
  { format: 'ocsf', label: 'OCSF', note: 'SSH Activity 4007, Datastore Activity 6005' },
  { format: 'asciicast', label: 'asciicast v2', note: 'one SSH hop\'s terminal' },
  { format: 'html', label: 'HTML report', note: 'self-contained post-mortem report' },
];

export function ExportView({ sessions, filter, setFilter, hop }: { sessions: SessionRow[]; filter: Filter; setFilter: (f: Filter) => void; hop?: string }) {
  const [format, setFormat] = useState<ExportFormat>('timesketch');
  const [scope, setScope] = useState<'filter' | 'hop'>('filter');
  const [result, setResult] = useState<ExportResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const selected = sessions.filter((s) => matches(filter, s)).map((s) => s.id);

  const run = () => {
    setBusy(true);
    setError(null);
    setResult(null);
    const list = scope === 'hop' && hop ? [hop] : isFiltered(filter) ? selected : [];
    api.exportCase({ format, sessions: list }).then((r) => {
      setResult(r);
      if (r.href) {
        const a = document.createElement('a');
        a.href = `${appBase()}${r.href}`;
        a.download = r.fileName;
        a.rel = 'noreferrer';
        document.body.appendChild(a);
        a.click();
        a.remove();
      }
    }, (err: Error) => setError(err.message)).finally(() => setBusy(false));
  };
  return (
    <div className="export-view">
      <section className="card">
        <h2>Export</h2>
        <div className="formats">
          {FORMATS.map((f) => (
            <label key={f.format} className={`format${format === f.format ? ' chosen' : ''}`}>
              <input type="radio" name="format" value={f.format} checked={format === f.format} onChange={() => setFormat(f.format)} data-testid={`format-${f.format}`} />
              <b>{f.label}</b><span className="muted small">{f.note}</span>
            </label>
          ))}
        </div>
        <h3>Scope</h3>
        <label className="scope-choice"><input type="radio" checked={scope === 'filter'} onChange={() => setScope('filter')} /> {isFiltered(filter) ? `the current filter (${selected.length} sessions)` : `the whole case (${sessions.length} sessions)`}</label>
        {hop && <label className="scope-choice"><input type="radio" checked={scope === 'hop'} onChange={() => setScope('hop')} data-testid="scope-hop" /> the open hop {shortId(hop)}</label>}
        <FilterBar sessions={sessions} filter={filter} setFilter={setFilter} shown={selected.length} />
        <button type="button" className="primary" onClick={run} disabled={busy || (isFiltered(filter) && scope === 'filter' && selected.length === 0)} data-testid="export-run">
          {busy ? 'Exporting…' : 'Export'}
        </button>
        {error && <div className="error-banner" role="alert">{error}</div>}
        {result && (
          <p className="export-result" data-testid="export-result">
            {result.fileName}: {result.records.toLocaleString()} records, {bytes(result.bytes)}
            {result.href && <> · <a href={`${appBase()}${result.href}`} download={result.fileName} data-testid="export-download">download again</a></>}
            {result.savedTo && <> · saved to {result.savedTo}</>}
          </p>
        )}
      </section>
    </div>
  );
}
