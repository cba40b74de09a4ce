// Goal: a connection's token expiry fires within a second after its time, once, and never after the
// connection is gone or its token was replaced. Method: fake timers and a fake clock.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Expiries } from './expiries.ts';

describe('token expiries', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('fires each connection at the second its token expires, in order, once', () => {
    const fired: [string, number][] = [];
    const expiries = new Expiries((id) => fired.push([id, Date.now()]));
    expiries.set('c', 1_003_500);
    expiries.set('a', 1_001_000);
    expiries.set('b', 1_001_200);
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual([['a', 1_001_000]]);
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual([
      ['a', 1_001_000],
      ['b', 1_002_000],
    ]);
    vi.advanceTimersByTime(10_000);
    expect(fired.map(([id]) => id)).toEqual(['a', 'b', 'c']);
    expect(fired[2]?.[1]).toBe(1_004_000);
    expect(expiries.size).toBe(0);
  });

  it('a connection gone or refreshed is not fired at its old time', () => {
    const fired: string[] = [];
    const expiries = new Expiries((id) => fired.push(id));
    expiries.set('gone', 1_001_000);
    expiries.set('refreshed', 1_001_000);
    expiries.delete('gone');
    expiries.set('refreshed', 1_060_000);
    vi.advanceTimersByTime(59_000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual(['refreshed']);
  });

  it('an expiry set while firing, earlier than the rest, is not lost', () => {
    const fired: string[] = [];
    const expiries = new Expiries((id) => {
      fired.push(id);
      if (id === 'first') expiries.set('later', 1_030_000);
    });
    expiries.set('first', 1_001_000);
    expiries.set('next', 1_005_000);
    vi.advanceTimersByTime(5_000);
    expect(fired).toEqual(['first', 'next']);
    vi.advanceTimersByTime(25_000);
    expect(fired).toEqual(['first', 'next', 'later']);
  });

  it('a token already expired fires at once', () => {
    const fired: string[] = [];
    const expiries = new Expiries((id) => fired.push(id));
    expiries.set('late', 999_000);
    vi.advanceTimersByTime(0);
    expect(fired).toEqual(['late']);
    expiries.close();
  });
});
