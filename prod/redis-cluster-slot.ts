/**
 * Redis Cluster's key -> slot map (CRC16/XMODEM of the key's hash tag, modulo 16384), so the
 * cluster store can group a batch's topics by slot before it sends them: each group is one script
 * call, and ioredis pipelines the calls bound for one node together.
 */

export const clusterSlots = 16_384;

const table = ((): Uint16Array => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

/** CRC16/XMODEM of `text`'s UTF-8 bytes. */
export function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'utf8'))
    crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The slot Redis Cluster gives `key`: only the part inside its first non-empty `{...}` counts. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(key.slice(open + 1, close)) % clusterSlots;
  }
  return crc16(key) % clusterSlots;
}
