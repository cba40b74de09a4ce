/**
 * Re-check a trace file: read its facts back and run the same checkers over them that judged the
 * live run. For a trace the simulator wrote, the summary is the live run's, count for count and
 * violation for violation; a trace whose facts were changed is judged on what it now says.
 */
import { Checkers, type CheckerSummary } from './checkers/index.ts';
import { readTraceFacts, TraceError } from './trace-reader.ts';

export function checkTrace(path: string): CheckerSummary {
  const checkers = new Checkers();
  let ended = false;
  for (const fact of readTraceFacts(path)) {
    checkers.apply(fact);
    if (fact.kind === 'end') ended = true;
  }
  if (!ended) throw new TraceError(path, 0, 'no end record: the run did not finish writing this trace');
  return checkers.summary();
}
