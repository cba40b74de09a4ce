// Goal: the store groups a batch by the slot Redis Cluster will compute, so the two must agree.
// Method: the CRC16 check value and slots from the Redis Cluster specification.
import { describe, expect, it } from 'vitest';
import { crc16, keySlot } from './redis-cluster-slot.ts';

describe('redis cluster slots', () => {
  it('CRC16/XMODEM gives the check value of the Redis Cluster specification', () => {
    expect(crc16('123456789')).toBe(0x31c3);
  });

  it('a key is slotted by its first non-empty hash tag, else as a whole', () => {
    expect(keySlot('foo')).toBe(12_182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('{user1000}.followers')).toBe(keySlot('{user1000}.following'));
    expect(keySlot('foo{}{bar}')).toBe(crc16('foo{}{bar}') % 16_384);
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });
});
