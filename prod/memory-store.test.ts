// Goal: the embedded store reports every lease change and sweeps dead leases on its own timer, so
// memory stays bounded when frontends die. Method: short leases and real waits.
import { afterEach, describe, expect, it } from 'vitest';
import type { LeaseChange } from '../core/index.ts';
import { MemoryStore } from './memory-store.ts';

const stores: MemoryStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

describe('memory store', () => {
  it('reports granted, renewed and removed leases, and sweeps expired ones by itself', async () => {
    const changes: LeaseChange[] = [];
    const store = new MemoryStore({ sweepEveryMs: 50 }, (change) => changes.push(change));
    stores.push(store);
    await store.request({ op: 'add', topic: 'a', frontend: 'f1', leaseMs: 5_000, generation: 1 });
    await store.request({ op: 'renew', topics: ['a'], frontend: 'f1', leaseMs: 5_000, generation: 2 });
    await store.request({ op: 'remove', topic: 'a', frontend: 'f1', generation: 3 });
    await store.request({ op: 'add', topic: 'b', frontend: 'dies', leaseMs: 100, generation: 1 });
    expect(changes.map((c) => c.change)).toEqual(['granted', 'renewed', 'removed', 'granted']);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(changes.at(-1)).toMatchObject({ change: 'expired', topic: 'b', frontend: 'dies' });
    expect(store.status()).toBe('up');
  });
});
