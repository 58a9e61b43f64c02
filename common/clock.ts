/** Time is passed in so that tests are exact. Microseconds since the Unix epoch. */
export interface Clock {
  nowMicros(): number;
}

const hrtime = process.hrtime;

/** Microseconds on the monotonic clock, as an exact integer (plain numbers: no BigInt per call). */
function monotonicMicros(): number {
  const [seconds, nanos] = hrtime();
  return seconds * 1_000_000 + Math.floor(nanos / 1000);
}

const origin = Date.now() * 1000 - monotonicMicros();

export const systemClock: Clock = {
  // Wall-clock anchored at start, advanced by the monotonic clock: microsecond
  // resolution and never going backwards within one process. Called a few times
  // per statement, so it stays on numbers (every term is an integer below 2^53).
  nowMicros: () => origin + monotonicMicros(),
};

export function fixedClock(startMicros: number, stepMicros = 1): Clock {
  let t = startMicros;
  return {
    nowMicros: () => {
      const now = t;
      t += stepMicros;
      return now;
    },
  };
}

export function microsToIso(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2026-11-25T22:38:44.123Z
  const frac = String(micros % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}
