import { useEffect, useState } from 'react';
import type { CaseAnswers } from '../../../common/api/index.js';
import { api } from '../api.js';
import { href } from '../route.js';

const MAX_HOPS = 12;

/** Fields by the hop they were returned to, in the order the hops come. */
function bySession<T extends { session: string }>(items: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of items) {
    let list = out.get(x.session);
    if (!list) out.set(x.session, (list = []));
    list.push(x);
  }
  return out;
}

/**
 * The incident's answers at a glance, for the whole case or for the chain that holds `session`: who
 * triggered it, what each hop ran, sensitive fields returned (and "0 unmasked" when that is so), policy
 * decisions with who decided (denials and timeouts apart), revocations with who revoked, and whether every
 * recording is intact. The same answers as `hopscope chain --format json` and the HTML report.
 */
export function AnswersPanel({ session }: { session: string | null }) {
  const [answers, setAnswers] = useState<CaseAnswers | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setAnswers(null);
    api.answers(session).then((a) => live && setAnswers(a), (err: Error) => live && setError(err.message));
    return () => { live = false; };
  }, [session]);
  if (error) return <div className="error-banner" role="alert">{error}</div>;
  if (!answers) return <p className="muted">Reading the answers…</p>;

  const short = (id: string) => id.slice(id.indexOf('-') + 1, id.indexOf('-') + 9);
  const hopName = new Map(answers.commands.map((c) => [c.session, `${c.identity ?? '?'} → ${c.target ?? '?'}`]));
  const masked = answers.sensitive.filter((s) => s.masked).reduce((n, s) => n + s.count, 0);
  const unmasked = answers.sensitive.filter((s) => !s.masked);
  const count = (action: string) => answers.policy.filter((p) => p.action === action).length;
  const decided = answers.policy.filter((p) => p.action === 'approved' || p.action === 'denied' || p.action === 'timeout');
  const revocations = answers.gateway.filter((g) => g.action === 'revoked');
  const refusedAfter = answers.gateway.filter((g) => g.action === 'refused');
  const cut = answers.ends.filter((e) => e.cause === 'revoked' || e.cause === 'ancestor-revoked');
  const bad = answers.integrity.filter((i) => i.integrity !== 'intact' || !i.sealed);

  return (
    <section className="answers" data-testid="answers" aria-label={session ? 'Answers for this chain' : 'Answers for the case'}>
      <h3>{session ? 'This chain' : 'The case'}, answered</h3>
      <dl>
        <dt>Triggered by</dt>
        <dd data-testid="answer-root">{answers.triggeredBy.map((t) => `${t.identity} (${t.hops} hop${t.hops === 1 ? '' : 's'}, depth ${t.maxDepth})`).join('; ') || 'no sessions'}</dd>

        <dt>What each hop ran</dt>
        <dd data-testid="answer-commands">
          <ul>
            {answers.commands.slice(0, MAX_HOPS).map((c) => (
              <li key={c.session}><a href={href({ view: 'hop', session: c.session })}>{'· '.repeat(c.depth)}{c.identity ?? '?'} → {c.target ?? '?'}</a>
                {' '}<span className="muted">{c.statements} statements, {c.commands} commands</span></li>
            ))}
          </ul>
          {answers.commands.length > MAX_HOPS && <span className="muted">… and {answers.commands.length - MAX_HOPS} more hops</span>}
        </dd>

        <dt>Sensitive fields returned</dt>
        <dd data-testid="answer-sensitive">
          <b className={unmasked.length ? 'bad' : 'good'}>{masked} masked, {unmasked.reduce((n, s) => n + s.count, 0)} unmasked</b>
          {unmasked.map((s) => <div key={`${s.session}-${s.field}-${s.rule}`} className="bad">UNMASKED {s.field} ×{s.count} to {hopName.get(s.session) ?? short(s.session)}</div>)}
          <ul>
            {[...bySession(answers.sensitive.filter((x) => x.masked))].map(([id, fields]) => (
              <li key={id} data-testid="answer-sensitive-hop">to {hopName.get(id) ?? short(id)}: {fields.map((f) => `${f.field}${f.rule && f.rule !== f.field ? ` (${f.rule})` : ''} ×${f.count}`).join(', ')} <span className="muted">masked</span></li>
            ))}
          </ul>
        </dd>

        <dt>Policy</dt>
        <dd data-testid="answer-policy">
          {count('block')} blocked, {count('review')} held, {count('approved')} approved, {count('denied')} denied, {count('timeout')} timed out
          <ul>
            {decided.map((p) => (
              <li key={`${p.session}-${p.seq}`}>{p.action === 'timeout' ? 'timed out: no one decided' : `${p.action} by ${p.actor ?? 'someone unrecorded'}`}
                {' '}<span className="muted">in {hopName.get(p.session) ?? short(p.session)}</span></li>
            ))}
          </ul>
        </dd>

        <dt>Revocations</dt>
        <dd data-testid="answer-revocations">
          {revocations.length === 0 && cut.length === 0 ? 'none' : null}
          {revocations.map((r) => <div key={`${r.recording}-${r.seq}`}>revoked by <b>{r.actor ?? 'someone unrecorded'}</b>: {r.message ?? ''}</div>)}
          {cut.length > 0 && <div>{cut.length} session{cut.length === 1 ? '' : 's'} cut ({cut.filter((e) => e.cause === 'ancestor-revoked').length} through a revoked ancestor)</div>}
          {refusedAfter.length > 0 && <div>{refusedAfter.length} login{refusedAfter.length === 1 ? '' : 's'} refused ({refusedAfter.map((r) => r.actor ?? '?').join(', ')})</div>}
        </dd>

        <dt>Evidence</dt>
        <dd data-testid="answer-integrity">
          <b className={bad.length ? 'bad' : 'good'}>{answers.integrity.length - bad.length} of {answers.integrity.length} recordings intact and sealed</b>
          {bad.map((i) => <div key={i.session} className="bad">{hopName.get(i.session) ?? short(i.session)}: {i.integrity}{i.sealed ? '' : ', not sealed'}</div>)}
        </dd>
      </dl>
    </section>
  );
}
