/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * The replay screen as its ink tests drive it: rendered with ink-testing-library, keys written to
 * its stdin as a terminal sends them, and the visible text waited for (rendering follows input
 * asynchronously). One screen is open at a time; a test file closes it after each test.
 */
import { render } from 'ink-testing-library';
import type { ReactElement } from 'react';
import { expect, vi } from 'vitest';
import { App } from './app.tsx';
import type { TraceIndex } from './trace-index.ts';

/** Keys as a terminal sends them. */
export const keys = {
  right: '\u001B[C',
  left: '\u001B[D',
  shiftRight: '\u001B[1;2C',
  shiftLeft: '\u001B[1;2D',
  up: '\u001B[A',
  down: '\u001B[B',
  home: '\u001B[H',
  end: '\u001B[F',
  enter: '\r',
  escape: '\u001B',
};

let screen: ReturnType<typeof render> | null = null;

/** Render `element` as the open screen. */
export function renderScreen(element: ReactElement): ReturnType<typeof render> {
  closeScreen();
  screen = render(element);
  return screen;
}

/** Open the replay of `index` at a fixed size (and playback tick). */
export function openScreen(
  index: TraceIndex,
  width = 80,
  height = 24,
  tickMs?: number,
): ReturnType<typeof render> {
  return renderScreen(
    tickMs === undefined ? (
      <App index={index} width={width} height={height} />
    ) : (
      <App index={index} width={width} height={height} tickMs={tickMs} />
    ),
  );
}

export function closeScreen(): void {
  screen?.unmount();
  screen = null;
}

/** What the open screen shows now. */
export const frame = (): string => screen?.lastFrame() ?? '';

/** Write to the open screen's stdin at once, as a terminal delivers a burst. */
export function write(data: string): void {
  screen!.stdin.write(data);
}

/** Wait until the screen shows `text`, and return what it shows. */
export async function shows(text: string | RegExp): Promise<string> {
  await vi.waitFor(
    () => {
      if (typeof text === 'string') expect(frame()).toContain(text);
      else expect(frame()).toMatch(text);
    },
    { timeout: 3000, interval: 5 },
  );
  return frame();
}

/** Press keys one after the other, letting ink parse each and React commit before the next. */
export async function press(...sequence: string[]): Promise<void> {
  for (const key of sequence) {
    write(key);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

/** g, then a time or an event id, then Enter. */
export async function goTo(time: string): Promise<void> {
  await press('g');
  await shows('Go to');
  await press(time, keys.enter);
}
