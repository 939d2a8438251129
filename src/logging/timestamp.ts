/**
 * pino's `timestamp` option: `,"time":"2026-12-03T06:55:01.234Z"`, as pino's `stdTimeFunctions.isoTime` writes it,
 * with the part up to the second formatted once per second. `Date#toISOString` for every line was about 2.5 µs of
 * the ~40 µs that metrics and logs add to an operation (a CPU profile of `npm run bench -- s1ops`'s gateway);
 * this is a few string concatenations.
 */
export function isoTimeField(now: () => number = Date.now): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const ms = now();
    const start = ms - (((ms % 1000) + 1000) % 1000);
    if (start !== second) {
      second = start;
      // `YYYY-MM-DDTHH:MM:SS.`
      prefix = new Date(start).toISOString().slice(0, 20);
    }
    const millis = ms - start;
    return `,"time":"${prefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z"`;
  };
}
