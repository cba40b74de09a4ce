// Goal: logs are one JSON object per line, filtered by level. Method: capture what a logger writes.
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';

describe('structured logs', () => {
  it('one JSON line per event, with the context, at or above the level', () => {
    const lines: string[] = [];
    const log = createLogger('info', { role: 'all', dc: 'dc-a' }, (line) => lines.push(line));
    log.debug('lease', { topic: 't' });
    log.info('listening', { url: 'http://127.0.0.1:7000' });
    log.error('core assertion failed', { error: 'x' });
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      msg: 'listening',
      role: 'all',
      dc: 'dc-a',
      url: 'http://127.0.0.1:7000',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'error', msg: 'core assertion failed' });
  });

  it('silent writes nothing; debug writes everything', () => {
    const quiet: string[] = [];
    createLogger('silent', {}, (line) => quiet.push(line)).error('boom');
    expect(quiet).toEqual([]);
    const chatty: string[] = [];
    createLogger('debug', {}, (line) => chatty.push(line)).debug('drop', { reason: 'store-timeout' });
    expect(JSON.parse(chatty[0]!)).toMatchObject({ level: 'debug', reason: 'store-timeout' });
  });
});
