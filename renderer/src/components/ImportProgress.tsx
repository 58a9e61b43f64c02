import { useCallback, useState } from 'react';
import type { ImportJob } from '../../../common/api/index.js';
import { api } from '../api.js';
import { IntegrityBadge } from './Badges.js';

/** Follows an import job until it ends (polling its status), then calls onDone. */
export function useImportJob(onDone?: () => void): { job: ImportJob | null; follow: (started: ImportJob) => Promise<void> } {
  const [job, setJob] = useState<ImportJob | null>(null);
  const follow = useCallback(async (started: ImportJob) => {
    setJob(started);
    let j = started;
    while (j.state === 'running') {
      await new Promise((r) => setTimeout(r, 150));
      j = await api.importStatus(j.id);
      setJob(j);
    }
    onDone?.();
  }, [onDone]);
  return { job, follow };
}

/** What an ended import did, by action (`1 rejected`, not a bare `done: 1/1 files`), and whether everything came in. */
function outcome(job: ImportJob): string {
  const counts = new Map<string, number>();
  for (const r of job.results) counts.set(r.action, (counts.get(r.action) ?? 0) + 1);
  const parts = [...counts].map(([action, n]) => `${n} ${action === 'unchanged' ? 'already present' : action}`);
  const bad = job.results.some((r) => r.action !== 'imported' && r.action !== 'unchanged');
  const files = `${job.filesTotal} file${job.filesTotal === 1 ? '' : 's'}`;
  const verdict = job.state !== 'done' ? job.state : bad ? 'done with problems' : 'done';
  return `${verdict}: ${files}${parts.length ? ` — ${parts.join(', ')}` : ''}; ${job.events.toLocaleString()} events`;
}

/** An import's progress bar, its outcome, and every file that did not import intact and sealed. */
export function ImportProgress({ job }: { job: ImportJob }) {
  const frac = (job.filesDone + (job.bytesTotal ? job.bytesRead / job.bytesTotal : 0) * (job.state === 'running' ? 1 : 0)) / Math.max(1, job.filesTotal);
  return (
    <div className="progress-box" data-testid="import-progress" data-state={job.state}>
      <progress max={1} value={job.state === 'running' ? frac : 1} />
      <span data-testid="import-outcome">{job.state === 'running' ? `importing ${job.filesDone + 1}/${job.filesTotal}: ${job.current ?? ''}` : outcome(job)}</span>
      {job.message && <div className="error-banner">{job.message}</div>}
      <ul className="import-results">
        {job.results.filter((r) => r.action !== 'imported' || r.integrity !== 'intact' || !r.sealed).map((r) => (
          <li key={r.path}><b>{r.action}</b> {r.integrity && <IntegrityBadge integrity={r.integrity} sealed={r.sealed} />} {r.path} {r.message ?? ''}</li>
        ))}
      </ul>
    </div>
  );
}
