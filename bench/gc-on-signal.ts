/**
 * Preloaded (`--expose-gc --import`) into a server process whose memory the benchmark reads: on
 * SIGUSR2 it runs a full garbage collection, so RSS read just after is live memory, not garbage
 * that happened not to be collected yet. It changes nothing else in the process.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
});
