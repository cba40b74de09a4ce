/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * The replay screen: the controller (controller.ts) holds everything a key or a tick changes; the
 * views (views/) draw it; this component only wires them to the terminal. It follows the
 * terminal's size, lays the screen out (layout.ts), feeds each key and playback tick to the
 * controller, reads the trace for the time shown, and ends the replay on `q` or when the trace can
 * no longer be read.
 */
import { Box, type Key, useApp, useInput, useStdout } from 'ink';
import { type ReactElement, useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { unreachable } from '../../core/index.ts';
import { type Action, type Screen, keyPresses, openingScreen, selection, step } from './controller.ts';
import { layoutFor } from './layout.ts';
import { zeroCounters } from './replay-state.ts';
import { followReader, windowReader } from './screen-readers.ts';
import { isReliable, type TraceIndex, type Window } from './trace-index.ts';
import {
  CountersView,
  FaultsInForce,
  FollowPane,
  Footer,
  Header,
  HelpPane,
  RecordsPane,
  Timeline,
  Topology,
  ViolationsPane,
} from './views/index.ts';

export interface AppProps {
  index: TraceIndex;
  /** Fixed size (tests); otherwise the terminal's less one row, following resizes. */
  width?: number;
  height?: number;
  /** Real milliseconds between playback frames. */
  tickMs?: number;
}

export function App(props: AppProps): ReactElement {
  const { index } = props;
  const { exit } = useApp();
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 }));
  useEffect(() => {
    const onResize = (): void => setSize({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  const width = props.width ?? size.columns;
  // One row short of the terminal: ink redraws a frame as tall as the terminal by erasing the whole
  // terminal, scrollback included, which would take the run's report (and the shell's history) with it.
  const height = props.height ?? Math.max(1, size.rows - 1);
  const layout = layoutFor(index.datacenters, index.nodes, width, height);
  const { listRows, afterRows, paneRows, wide } = layout;

  const windowAt = useMemo(() => windowReader(index, listRows, afterRows), [index, listRows, afterRows]);
  const followRows = useMemo(() => followReader(index, layout.followWidth), [index, layout.followWidth]);
  const [screen, dispatch] = useReducer(
    (current: Screen, action: Action): Screen =>
      step({ index, windowAt, followRows, listRows }, current, action),
    index,
    openingScreen,
  );

  // A trace that cannot be read any more (changed on disk) ends the replay with its message: the
  // error is kept here during render and handed to ink's exit after it, never drawn as a stack.
  const failure = useRef<Error | null>(null);
  const guarded = <T,>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (error) {
      failure.current ??= error instanceof Error ? error : new Error(String(error));
      return fallback;
    }
  };
  useEffect(() => {
    const error = failure.current ?? screen.failure;
    if (error) exit(error);
    else if (screen.quit) exit();
  });

  useEffect(() => {
    if (!screen.playing) return;
    const tickMs = props.tickMs ?? 100;
    const timer = setInterval(() => dispatch({ kind: 'tick', tickMs }), tickMs);
    return () => clearInterval(timer);
  }, [screen.playing, props.tickMs]);

  useInput(
    useCallback((input: string, key: Key) => {
      for (const press of keyPresses(input, key)) dispatch({ kind: 'key', key: press });
    }, []),
  );

  const empty: Window = {
    view: { t: screen.t, counters: zeroCounters(), nodes: [], faults: [] },
    before: [],
    after: [],
  };
  const window = guarded(() => windowAt(screen.t, screen.filter), empty);
  const { entries, selected } = selection(window, screen.selectedLine);
  const pathRows = guarded(() => followRows(screen.followed), []);

  const records = (paneWidth: number): ReactElement => (
    <RecordsPane
      index={index}
      entries={entries}
      selected={selected}
      before={window.before.length}
      filter={screen.filter}
      width={paneWidth}
      rows={paneRows}
    />
  );
  /** The pane the screen shows: the records, or beside them (or instead, when narrow) another. */
  const pane = (paneWidth: number): ReactElement => {
    switch (screen.pane) {
      case 'events':
        return records(paneWidth);
      case 'help':
        return <HelpPane width={paneWidth} height={paneRows} />;
      case 'violations':
        return (
          <ViolationsPane index={index} current={screen.violation} width={paneWidth} height={paneRows} />
        );
      case 'follow':
        return (
          <FollowPane
            followed={screen.followed}
            rows={pathRows}
            scroll={screen.scroll}
            width={paneWidth}
            height={paneRows}
          />
        );
      default:
        return unreachable(screen.pane);
    }
  };

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header index={index} screen={screen} />
      {screen.pane === 'help' && !wide ? (
        // Help takes the whole screen between header and footer when there is no room beside the events.
        <HelpPane height={height - 2} />
      ) : (
        <>
          <Topology index={index} view={window.view} width={width} compact={layout.compact} />
          <FaultsInForce view={window.view} />
          <Timeline index={index} t={screen.t} width={width} />
          <CountersView
            soFar={window.view.counters}
            total={index.totals}
            width={width}
            reliable={isReliable(index)}
          />
          {screen.pane !== 'events' && wide ? (
            <Box>
              {records(Math.floor(width / 2))}
              {pane(width - Math.floor(width / 2))}
            </Box>
          ) : (
            pane(width)
          )}
        </>
      )}
      <Footer prompt={screen.prompt} message={screen.message} width={width} />
    </Box>
  );
}
