// Goal: the checker is trusted only because it fails: each planted bug in a copy of a role is
// reported under the invariant it breaks, naming the event, the connection and the causal chain.
// Method: run small scenarios with a buggy role wrapped around the core's, and read the report.
import { describe, expect, it } from 'vitest';
import { dispatcher as coreDispatcher, type Effect } from '../core/index.ts';
import { smallScenario } from './fixtures.ts';
import { runScenario, type Report } from './run.ts';
import type { InvariantName } from './trace.ts';
import { coreRoles, type Roles } from './world.ts';

function violationsOf(report: Report, invariant: InvariantName) {
  return report.violations.filter((v) => v.invariant === invariant);
}

function withFrontend(handle: Roles['frontend']['handle']): Roles {
  return { ...coreRoles, frontend: { ...coreRoles.frontend, handle } };
}

function withDispatcher(handle: Roles['dispatcher']['handle']): Roles {
  return { ...coreRoles, dispatcher: { ...coreRoles.dispatcher, handle } };
}

const mapDeliver = (effects: Effect[], f: (e: Extract<Effect, { kind: 'deliver' }>) => Effect): Effect[] =>
  effects.map((effect) => (effect.kind === 'deliver' ? f(effect) : effect));

describe('checker, against planted bugs', () => {
  it('the correct core on the same scenarios: no violation at all', () => {
    const report = runScenario(smallScenario({ duplicatePerMillion: 200_000 }), '3', { tracePath: null });
    expect(report.violations).toEqual([]);
    expect(report.messages.duplicated).toBeGreaterThan(50);
  });

  it('a frontend that forgets event ids (no dedupe) is caught delivering duplicates', () => {
    const noDedupe = withFrontend((state, input, now) => {
      state.history.clear();
      return coreRoles.frontend.handle(state, input, now);
    });
    const report = runScenario(smallScenario({ duplicatePerMillion: 200_000 }), '3', {
      tracePath: null,
      roles: noDedupe,
    });
    const found = violationsOf(report, 'no-duplicates');
    expect(report.duplicates).toBeGreaterThan(0);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.message).toMatch(/received event .* a second time/);
    expect(found[0]!.connection).toMatch(/frontend-\d#\d+$/);
    expect(found[0]!.chain[0]).toMatch(/published on "(live|chat)"/);
  });

  it('a dispatcher that ignores leases (keeps sending to every frontend it ever saw) breaks lease hygiene', () => {
    const seen = new Map<string, Set<string>>();
    const ignoresLeases = withDispatcher((state, input, now) => {
      if (input.kind === 'store-reply' && input.reply.op === 'frontends') {
        const event = coreDispatcher.eventOfStoreRequest(state, input.requestId);
        if (event !== null) {
          const key = `${state.config.dc}/${event.topic}`;
          const cache = seen.get(key) ?? new Set<string>();
          seen.set(key, cache);
          for (const frontend of input.reply.frontends) cache.add(frontend);
          input = { ...input, reply: { op: 'frontends', frontends: [...cache] } };
        }
      }
      return coreRoles.dispatcher.handle(state, input, now);
    });
    const scenario = smallScenario({ faults: [{ kind: 'kill', atMs: 3_000, node: 'dc-a/frontend-2' }] });
    const clean = runScenario(scenario, '4', { tracePath: null });
    expect(clean.violations).toEqual([]);
    const report = runScenario(scenario, '4', { tracePath: null, roles: ignoresLeases });
    const found = violationsOf(report, 'lease-hygiene');
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.message).toMatch(
      /sent event .* to dc-a\/frontend-2, but dc-a\/frontend-2's lease on "(live|chat)" in dc-a ended/,
    );
    expect(found[0]!.node).toMatch(/^dc-a\/dispatcher-\d$/);
  });

  it('a frontend that delivers to the viewers of another topic is caught misdelivering', () => {
    const wrongTopic = withFrontend((state, input, now) =>
      mapDeliver(coreRoles.frontend.handle(state, input, now), (effect) => {
        const other = [...state.topics.entries()].find(([topic]) => topic !== effect.event.topic);
        return other === undefined ? effect : { ...effect, connections: [...other[1]] };
      }),
    );
    const report = runScenario(smallScenario(), '5', { tracePath: null, roles: wrongTopic });
    const found = violationsOf(report, 'no-misdelivery');
    expect(report.misdeliveries).toBeGreaterThan(0);
    expect(found[0]!.message).toMatch(
      /sent event .* of "(live|chat)" to .*, which is not subscribed to it there/,
    );
    // The viewers of the right topic lost the event, and nothing explains it.
    expect(violationsOf(report, 'explained-loss').length).toBeGreaterThan(0);
  });

  it('a frontend that alters payloads is caught breaking integrity', () => {
    const corrupt = withFrontend((state, input, now) =>
      mapDeliver(coreRoles.frontend.handle(state, input, now), (effect) => ({
        ...effect,
        event: { ...effect.event, payload: effect.event.payload + ' ' },
      })),
    );
    const report = runScenario(smallScenario(), '5', { tracePath: null, roles: corrupt });
    expect(report.integrityErrors).toBeGreaterThan(0);
    expect(violationsOf(report, 'integrity')[0]!.message).toMatch(/altered from what was published/);
  });

  it('a dispatcher that silently skips a frontend, with no fault anywhere, breaks explained loss and fault-free liveness', () => {
    let count = 0;
    const skips = withDispatcher((state, input, now) =>
      coreRoles.dispatcher
        .handle(state, input, now)
        .filter(
          (effect) =>
            !(
              effect.kind === 'send' &&
              effect.message.type === 'deliver' &&
              effect.target === 'dc-b/frontend-1' &&
              count++ % 7 === 0
            ),
        ),
    );
    const report = runScenario(smallScenario(), '6', { tracePath: null, roles: skips });
    const loss = violationsOf(report, 'explained-loss');
    const liveness = violationsOf(report, 'fault-free-liveness');
    expect(report.lost.unexplained).toBeGreaterThan(0);
    expect(loss[0]!.message).toMatch(
      /never reached \d+ connection\(s\) of dc-b\/frontend-1 .* no fault was on its path/,
    );
    expect(liveness.length).toBeGreaterThan(0);
    expect(loss[0]!.chain.some((step) => step.includes('published'))).toBe(true);
  });
});
