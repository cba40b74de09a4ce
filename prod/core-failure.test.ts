// Goal: production does not keep running on state a failed core assertion declared corrupt: the
// role stops at once and the process is left to its supervisor (by default it exits with 70).
// Method: a server whose frontend role is the core's with a planted assertion failure on one topic.
import { afterEach, describe, expect, it } from 'vitest';
import { AssertionError, frontendRole, type FrontendInput } from '../core/index.ts';
import { serveConfigFrom } from './config.ts';
import { createLogger } from './log.ts';
import { coreFailureExitCode, startServer } from './server.ts';
import { closeTestServers, openStream, publish, servers } from './test-server.ts';
import { waitFor } from './wait-for.ts';

afterEach(closeTestServers);

describe('a failed core assertion stops the role', () => {
  it('the failure is logged with its stack and handed to onCoreFailure; nothing more is handled', async () => {
    const failures: unknown[] = [];
    const lines: string[] = [];
    const parsed = serveConfigFrom({ port: '0', shutdownGraceMs: '200' }, {});
    if (!parsed.ok) throw new Error(parsed.error);
    let handledAfter = 0;
    const server = await startServer(
      parsed.config,
      createLogger('error', {}, (line) => lines.push(line)),
      {
        onCoreFailure: (error) => failures.push(error),
        roles: {
          dispatcher: (await import('../core/index.ts')).dispatcherRole,
          frontend: {
            ...frontendRole,
            handle: (state, input: FrontendInput, now) => {
              if (failures.length > 0) handledAfter++;
              if (
                input.kind === 'client' &&
                input.action.type === 'subscribe' &&
                input.action.topic === 'boom'
              )
                throw new AssertionError('planted: state is corrupt');
              return frontendRole.handle(state, input, now);
            },
          },
        },
      },
    );
    servers.push(server);
    const fine = await openStream(`${server.url}/v1/stream?topic=fine`);
    await publish(server.url, { topic: 'fine', payload: 'before' });
    await waitFor(() => fine.events().length === 1, 'delivery before the failure');
    await openStream(`${server.url}/v1/stream?topic=boom`);
    await waitFor(() => failures.length === 1, 'the failure');
    expect(failures[0]).toBeInstanceOf(AssertionError);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'core assertion failed: stopping' }),
    );
    expect(String(logged.find((l) => l.level === 'error')?.error)).toContain('planted: state is corrupt');
    // Nothing is handled any more: a publish is never answered (the process would be gone).
    const late = await fetch(`${server.url}/v1/publish`, {
      method: 'POST',
      body: JSON.stringify({ topic: 'fine', payload: 'after' }),
      signal: AbortSignal.timeout(300),
    }).catch(() => 'no answer');
    expect(late).toBe('no answer');
    expect(handledAfter).toBe(0);
    expect(fine.events()).toHaveLength(1);
    expect(coreFailureExitCode).toBe(70);
  });
});
