import { afterAll, describe, expect, it } from 'vitest';
import { verifyRecordingFile } from './read.js';
import { TempDir, buildRecording } from './testing/recordings.js';
import { MAX_FINDINGS, RecordingVerifier, type VerifyReport } from './verify.js';

// A corrupt file of any size keeps a bounded list of findings: the first MAX_FINDINGS
// in detail, then the first of each new kind; the rest are counted, and the verdict
// is the one every finding gives. Layout of `rec`: see verify.test.ts (seq 1–15, sealed).
const tmp = new TempDir();
afterAll(() => tmp.remove());
const rec = buildRecording();
const { trusted } = rec;
let n = 0;

/** The recording with `count` garbage lines after seq 7 (lines 9…8+count), sealed or cut after seq 12 (unsealed). */
function withGarbage(count: number, sealed = true): string[] {
  const tail = sealed ? rec.lines.slice(8) : rec.lines.slice(8, 13);
  return [...rec.lines.slice(0, 8), ...Array.from({ length: count }, (_, i) => `garbage ${i}`), ...tail];
}

const verdict = (r: VerifyReport) => ({
  status: r.status, events: r.events, lastSeq: r.lastSeq, intactThroughSeq: r.intactThroughSeq, signedThroughSeq: r.signedThroughSeq, sealed: r.sealed,
});

async function verifyLines(lines: readonly string[]): Promise<VerifyReport> {
  return verifyRecordingFile(tmp.writeLines(`g${++n}.jsonl`, lines), trusted);
}

describe('bounded findings', () => {
  it('keeps every finding, and omits none, under the cap', async () => {
    const r = await verifyLines(withGarbage(3));
    expect(r.findings.map((f) => [f.kind, f.line])).toEqual([['corrupt-line', 9], ['corrupt-line', 10], ['corrupt-line', 11], ['altered', 12]]);
    expect(r.findingsOmitted).toBe(0);
    expect((await verifyLines(rec.lines)).findingsOmitted).toBe(0);
  });

  it('keeps the first MAX_FINDINGS in detail, counts the rest and gives the verdict of a short corruption', async () => {
    const few = await verifyLines(withGarbage(3));
    const many = await verifyLines(withGarbage(10_000));
    expect(verdict(many)).toEqual(verdict(few));
    expect(verdict(many)).toMatchObject({ status: 'tampered', intactThroughSeq: 6, sealed: false });
    // The first hundred garbage lines in detail, then the first finding of a kind not listed yet (the altered link after the garbage).
    expect(many.findings.slice(0, MAX_FINDINGS).map((f) => [f.kind, f.line])).toEqual(
      Array.from({ length: MAX_FINDINGS }, (_, i) => ['corrupt-line', 9 + i]));
    expect(many.findings.slice(MAX_FINDINGS)).toEqual([expect.objectContaining({ kind: 'altered', line: 10_009, seq: 7 })]);
    expect(many.findingsOmitted).toBe(10_000 - MAX_FINDINGS);
  });

  it('still names the end-of-file notes (unsealed) past the cap', async () => {
    const few = await verifyLines(withGarbage(3, false));
    const many = await verifyLines(withGarbage(5_000, false));
    expect(verdict(many)).toEqual(verdict(few));
    expect(verdict(many)).toMatchObject({ status: 'tampered', sealed: false });
    expect(many.findings.map((f) => f.kind).slice(MAX_FINDINGS)).toEqual(['altered', 'unsealed']);
    expect(many.findingsOmitted).toBe(5_000 - MAX_FINDINGS);
  });

  it('holds a list of MAX_FINDINGS + kinds whatever the number of bad lines', () => {
    const v = new RecordingVerifier(trusted);
    for (const line of rec.lines.slice(0, 4)) v.push(line);
    const bad = 200_000;
    for (let i = 0; i < bad; i++) v.push(i % 2 ? `{"seq":${i}}` : 'x');
    const r = v.end();
    expect(r.findings).toHaveLength(MAX_FINDINGS + 1); // + the 'unsealed' note
    expect(r.findings.at(-1)).toMatchObject({ kind: 'unsealed', line: 4 + bad });
    expect(r.findings.length + r.findingsOmitted).toBe(bad + 1);
    expect(r).toMatchObject({ status: 'tampered', events: 3, lastSeq: 3, intactThroughSeq: 3, sealed: false });
  });
});
