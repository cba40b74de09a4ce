/**
 * The publishers: one per datacenter, standing for the application backends that publish there.
 *
 * A publisher is not a node and runs no role: it is the client end of the dispatchers' HTTP publish
 * endpoint. Each topic publishes at its rate (exponential gaps, from the workload stream), its
 * publishes taking the datacenters in turn as origins; the publisher of that datacenter sends each
 * to a live dispatcher there, in turn (a load balancer with a health check), or counts it
 * unroutable when none is alive. The request reaches the dispatcher as its `publish` input; the
 * answer (its `publish-reply` effect) comes back to the publisher that asked and is counted as
 * answered, answered with a warning, or refused.
 */
import { assert, usOfMs, type DcId, type Message, type PublishId, type Us } from '../../core/index.ts';
import type { Rng } from '../rng.ts';
import type { Scenario, TopicLoad } from '../scenario.ts';
import type { Agenda, Item } from './agenda.ts';
import type { Network } from './network.ts';
import { isAlive, type Nodes } from './nodes.ts';

export interface Publisher {
  role: 'publisher';
  /** Its address in messages and traces: `<dc>/publisher`. */
  id: string;
  dc: DcId;
}

export class Publishers {
  readonly counts = { attempted: 0, unroutable: 0, answered: 0, warned: 0, refused: 0 };
  private readonly byDc = new Map<DcId, Publisher>();
  /** Per topic: how many publishes it has made (which origin is next). */
  private readonly cursor: number[] = [];
  /** Per datacenter: whose turn it is among the live dispatchers. */
  private readonly dispatcherTurn = new Map<DcId, number>();
  /** Publish id -> the publisher that made it, which its answer goes back to. */
  private readonly askedBy: Publisher[] = [];

  constructor(
    private readonly agenda: Agenda,
    private readonly scenario: Scenario,
    private readonly workload: Rng,
    private readonly nodes: Nodes,
    private readonly network: Network,
    private readonly stopPublishingUs: Us,
  ) {
    for (const { name } of scenario.topology.datacenters)
      this.byDc.set(name, { role: 'publisher', id: `${name}/publisher`, dc: name });
  }

  /** Schedule a topic's first publish. Its origins start at the topic's own index, so topics spread over datacenters. */
  startTopic(topicIndex: number): void {
    const topic = this.scenario.workload.topics[topicIndex];
    assert(topic !== undefined, `no topic #${topicIndex}`);
    this.cursor[topicIndex] = topicIndex;
    if (topic.publishesPerSecond <= 0) return;
    const at = this.inBurst(
      topic,
      usOfMs(this.scenario.workload.publishFromMs) + this.workload.intervalUs(topic.publishesPerSecond),
    );
    if (at < this.stopPublishingUs) this.agenda.schedule({ at, kind: 'publish', topic: topicIndex });
  }

  onPublish({ topic: topicIndex }: Extract<Item, { kind: 'publish' }>): void {
    const topic = this.scenario.workload.topics[topicIndex];
    assert(topic !== undefined, `publish for an unknown topic #${topicIndex}`);
    const dcs = this.scenario.topology.datacenters;
    const cursor = this.cursor[topicIndex] ?? 0;
    this.cursor[topicIndex] = cursor + 1;
    const publisher = this.of((dcs[cursor % dcs.length] as { name: DcId }).name);
    this.counts.attempted++;
    const alive = this.nodes.dispatchersOf(publisher.dc).filter(isAlive);
    if (alive.length === 0) {
      this.counts.unroutable++;
    } else {
      const turn = this.dispatcherTurn.get(publisher.dc) ?? 0;
      this.dispatcherTurn.set(publisher.dc, turn + 1);
      const target = alive[turn % alive.length];
      assert(target !== undefined, 'no dispatcher at its turn');
      const publishId: PublishId = this.counts.attempted;
      this.askedBy[publishId] = publisher;
      const body = `{"like":${publishId},"topic":"${topic.name}","pad":"`;
      const payload =
        body + 'x'.repeat(Math.max(0, this.scenario.workload.payloadBytes - body.length - 2)) + '"}';
      this.network.send(publisher, target, {
        type: 'publish',
        requestId: publishId,
        topic: topic.name,
        payload,
      });
    }
    const next = this.inBurst(topic, this.agenda.now + this.workload.intervalUs(topic.publishesPerSecond));
    if (next < this.stopPublishingUs) this.agenda.schedule({ at: next, kind: 'publish', topic: topicIndex });
  }

  /** The publisher waiting for the answer to `publishId`. */
  replyTo(publishId: PublishId): Publisher {
    const publisher = this.askedBy[publishId];
    assert(publisher !== undefined, `no publish #${publishId} was made`);
    return publisher;
  }

  /** An answer came back to its publisher. */
  answered(message: Message): void {
    assert(message.type === 'publish-reply', `a publisher got a ${message.type}`);
    const { result } = message;
    if (!result.ok) this.counts.refused++;
    else if (result.warning === undefined) this.counts.answered++;
    else this.counts.warned++;
  }

  /**
   * A topic that publishes in bursts is silent for `quietMs` after each `burstMs`: a publish due in
   * a quiet stretch waits for the next burst. A steady topic (`quietMs` 0) publishes when due.
   */
  private inBurst(topic: TopicLoad, atUs: Us): Us {
    if (topic.quietMs <= 0) return atUs;
    const fromUs = usOfMs(this.scenario.workload.publishFromMs);
    const cycleUs = usOfMs(topic.burstMs + topic.quietMs);
    const intoCycle = (atUs - fromUs) % cycleUs;
    if (intoCycle < usOfMs(topic.burstMs)) return atUs;
    return atUs - intoCycle + cycleUs;
  }

  private of(dc: DcId): Publisher {
    const publisher = this.byDc.get(dc);
    assert(publisher !== undefined, `no publisher in ${dc}`);
    return publisher;
  }
}
