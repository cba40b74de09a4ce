/** What the harness tells a chaos node (chaos/node.ts) at its start, in `STADIUM_CHAOS_NODE`. */
import type { DcId, DispatcherOptions, FrontendOptions } from '../core/index.ts';
import type { ServeFlags } from '../prod/index.ts';
import type { MessageEnd, PlantedBug } from '../sim/index.ts';

export interface ChaosNodeSpec {
  self: MessageEnd & { dc: DcId };
  /** Production node ids (URLs) and how the facts name them. */
  names: [string, MessageEnd][];
  messageBase: number;
  originUs: number;
  factsFile: string;
  plantBug: PlantedBug | null;
  flags: ServeFlags;
  frontendOptions: Partial<FrontendOptions>;
  dispatcherOptions: Partial<DispatcherOptions>;
}

export const chaosNodeEnv = 'STADIUM_CHAOS_NODE';
