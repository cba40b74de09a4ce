/** A one-line progress bar on a terminal; silent when the stream is not a TTY (piped, CI). */
import type { WriteStream } from 'node:tty';

export interface Progress {
  update: (done: number, total: number, detail?: string) => void;
  done: () => void;
}

export function progressBar(stream: NodeJS.WriteStream | WriteStream, label: string): Progress {
  if (stream.isTTY !== true) return { update: () => {}, done: () => {} };
  let last = -1;
  return {
    update(done, total, detail) {
      const width = 30;
      const fraction = total <= 0 ? 1 : Math.min(1, done / total);
      const percent = Math.floor(fraction * 100);
      if (percent === last && detail === undefined) return;
      last = percent;
      const filled = Math.round(fraction * width);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}%${detail === undefined ? '' : ` ${detail}`}\x1b[K`,
      );
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
