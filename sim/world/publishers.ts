/**
 * The publishers: one per datacenter, standing for the application backends that publish there.
 *
 * A publisher is not a node and runs no role: it is the client end of the dispatchers' HTTP publish
 * endpoint. Each topic publishes at its rate (exponential gaps, from the workload stream), its
 * publishes taking the datacenters in turn as origins; the publisher of that datacenter sends each
 * to a live dispatcher there, in turn (a load balancer with a health check), or counts it
 * unroutable when none is alive. The request reaches the dispatcher as its `publish` input; the
 * answer (its `publish-reply` effect) comes back to the publisher that asked, becomes an `answered`
 * fact, and is counted as answered, answered with a warning, or refused.
 *
 * Best-effort: each publish is sent once, and the dispatcher assigns its event id.
 *
 * Reliable: a publish carries an id of the publisher's own (`<dc>-<n>`, outside the servers'
 * namespace), so sending it again is idempotent: the store appends an id once. A publish refused
 * for the weather (store unavailable, dispatcher overloaded) is sent again after the answer's
 * `retryAfterMs`; one unanswered for `publishRetryMs` is sent again at once; each time with the
 * same id, to the next live dispatcher, at most `publishAttemptsMax` times in all, and never once
 * publishing has stopped. An OK answer, to any of its attempts, settles it. What is never settled
 * is abandoned.
 */
import {
  assert,
  usOfMs,
  type DcId,
  type EventId,
  type Message,
  type Ms,
  type NodeId,
  type PublishErrorCode,
  type PublishId,
  type Topic,
  type Us,
} from '../../core/index.ts';
import type { Rng } from '../rng.ts';
import type { RoleSettings, Scenario, TopicLoad } from '../scenario.ts';
import type { Agenda, Item } from './agenda.ts';
import type { Network } from './network.ts';
import { isAlive, type DispatcherNode, type Nodes } from './nodes.ts';

export interface Publisher {
  role: 'publisher';
  /** Its address in messages and traces: `<dc>/publisher`. */
  id: string;
  dc: DcId;
}

/** Reliable mode: how many times a publisher sends one publish, the first time included. */
export const publishAttemptsMax = 4;

/** What a publisher allows past the dispatcher's own waits before it calls a publish unanswered. */
const publishAnswerMarginMs: Ms = 100;

/**
 * Reliable mode: how long a publisher waits for an answer before it sends the publish again. A
 * dispatcher answers after its store's append (at most a store request's timeout) and the peer
 * datacenters' acks (at most `forwardAckWaitMs`); the margin covers the links there and back.
 */
export function publishRetryMs(roles: Pick<RoleSettings, 'storeRequestTimeoutMs' | 'forwardAckWaitMs'>): Ms {
  return roles.storeRequestTimeoutMs + roles.forwardAckWaitMs + publishAnswerMarginMs;
}

/**
 * Which refusals are weather, not a mistake of the publish, so sending it again may succeed. A
 * record, so that a code added to the union must be decided here.
 */
const retryable: Record<PublishErrorCode, boolean> = {
  'store-unavailable': true,
  overloaded: true,
  'bad-topic': false,
  'bad-id': false,
  'bad-payload': false,
  'payload-too-large': false,
};

/** Reliable mode: one publish, over all its attempts. */
interface Publish {
  /** Its number among all publishes: the `<n>` of its id. */
  n: number;
  id: EventId;
  topic: Topic;
  payload: string;
  publisher: Publisher;
  attempts: number;
  /** The request of its latest attempt; null when that one found no live dispatcher. */
  latestRequest: PublishId | null;
  /** Where its latest attempt went: a retry goes to the next live dispatcher after it. */
  lastTarget: NodeId | null;
  /** An OK answer came, or the publisher gave up: nothing more is sent. */
  settled: boolean;
  /** Names the one retry item still current: an answer or a newer attempt makes the older stale. */
  token: number;
}

/** One request sent: who sent it, and in reliable mode the publish it is an attempt of. */
interface Request {
  publisher: Publisher;
  publish: Publish | null;
}

export class Publishers {
  /**
   * `attempted`: publishes made (each once, however often sent); `unroutable`: sends that found no
   * live dispatcher; `answered`, `warned`, `refused`: answers, as they came. Reliable mode only:
   * `retried`, the sends after a publish's first; `abandoned`, publishes never answered OK.
   */
  readonly counts = {
    attempted: 0,
    unroutable: 0,
    answered: 0,
    warned: 0,
    refused: 0,
    retried: 0,
    abandoned: 0,
  };
  private readonly byDc = new Map<DcId, Publisher>();
  /** Per topic: how many publishes it has made (which origin is next). */
  private readonly cursor: number[] = [];
  /** Per datacenter: whose turn it is among the live dispatchers. */
  private readonly dispatcherTurn = new Map<DcId, number>();
  /** Request id -> who sent it, which its answer goes back to. */
  private readonly requests: Request[] = [];
  private nextRequestId: PublishId = 1;
  /** Reliable mode: publishes by number (their id's `<n>`), until settled. */
  private readonly publishes = new Map<number, Publish>();
  private readonly reliable: boolean;
  private readonly retryUs: Us;

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
    this.reliable = scenario.mode === 'reliable';
    this.retryUs = usOfMs(publishRetryMs(scenario.roles));
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
    const n = ++this.counts.attempted;
    const body = `{"like":${n},"topic":"${topic.name}","pad":"`;
    const payload =
      body + 'x'.repeat(Math.max(0, this.scenario.workload.payloadBytes - body.length - 2)) + '"}';
    if (this.reliable) {
      const publish: Publish = {
        n,
        id: `${publisher.dc}-${n}`,
        topic: topic.name,
        payload,
        publisher,
        attempts: 0,
        latestRequest: null,
        lastTarget: null,
        settled: false,
        token: 0,
      };
      this.publishes.set(n, publish);
      this.attempt(publish);
    } else {
      this.send(publisher, topic.name, payload, null);
    }
    const next = this.inBurst(topic, this.agenda.now + this.workload.intervalUs(topic.publishesPerSecond));
    if (next < this.stopPublishingUs) this.agenda.schedule({ at: next, kind: 'publish', topic: topicIndex });
  }

  /** Reliable mode: a publish's wait is over (unanswered, or the wait its refusal asked for). */
  onRetry({ publish: n, token }: Extract<Item, { kind: 'publish-retry' }>): void {
    const publish = this.publishes.get(n);
    if (publish === undefined || publish.token !== token) return;
    if (publish.attempts >= publishAttemptsMax) return this.abandon(publish);
    this.counts.retried++;
    this.attempt(publish);
  }

  /** The publisher waiting for the answer to request `publishId`. */
  replyTo(publishId: PublishId): Publisher {
    const request = this.requests[publishId];
    assert(request !== undefined, `no publish request #${publishId} was made`);
    return request.publisher;
  }

  /** An answer came back to its publisher: a fact, a count, and in reliable mode what it settles. */
  answered(message: Message): void {
    assert(message.type === 'publish-reply', `a publisher got a ${message.type}`);
    const { result, requestId } = message;
    const request = this.requests[requestId];
    assert(request !== undefined, `an answer to publish request #${requestId}, which was never made`);
    const { publisher, publish } = request;
    const t = this.agenda.now;
    if (result.ok) {
      const { eventId: e, warning } = result;
      assert(publish === null || e === publish.id, `publish ${publish?.id} answered for event ${e}`);
      if (warning === undefined) this.counts.answered++;
      else this.counts.warned++;
      const warned = warning === undefined ? {} : { warning: warning.code };
      this.agenda.emit({ kind: 'answered', t, dc: publisher.dc, ok: true, e, ...warned });
    } else {
      this.counts.refused++;
      const named = publish === null ? {} : { e: publish.id };
      this.agenda.emit({ kind: 'answered', t, dc: publisher.dc, ok: false, ...named, code: result.code });
    }
    if (publish === null || publish.settled) return;
    if (result.ok) {
      publish.settled = true;
      this.publishes.delete(publish.n);
    } else if (!retryable[result.code]) {
      this.abandon(publish);
    } else if (publish.latestRequest === requestId) {
      // The answer to its latest attempt: wait as asked, then send it again. An older attempt's
      // refusal says nothing of the newer one, which is still awaited.
      this.waitThenRetry(publish, usOfMs(result.retryAfterMs ?? 0));
    }
  }

  /** Send the publish (again): to the next live dispatcher of its datacenter, then wait for the answer. */
  private attempt(publish: Publish): void {
    if (this.agenda.now >= this.stopPublishingUs) return this.abandon(publish);
    publish.attempts++;
    publish.latestRequest = this.send(publish.publisher, publish.topic, publish.payload, publish);
    this.waitThenRetry(publish, this.retryUs);
  }

  private waitThenRetry(publish: Publish, waitUs: Us): void {
    publish.token++;
    const at = this.agenda.now + waitUs;
    this.agenda.schedule({ at, kind: 'publish-retry', publish: publish.n, token: publish.token });
  }

  private abandon(publish: Publish): void {
    publish.settled = true;
    this.publishes.delete(publish.n);
    this.counts.abandoned++;
  }

  /**
   * One request to a live dispatcher of the publisher's datacenter: its id, or null when none is
   * alive (unroutable). A first send goes to the dispatcher whose turn it is; a retry to the next
   * live one after its last attempt's, so it fails over from a dispatcher that did not answer.
   */
  private send(
    publisher: Publisher,
    topic: Topic,
    payload: string,
    publish: Publish | null,
  ): PublishId | null {
    const last = publish?.lastTarget ?? null;
    const target = last === null ? this.inTurn(publisher.dc) : this.after(publisher.dc, last);
    if (target === null) {
      this.counts.unroutable++;
      return null;
    }
    if (publish !== null) publish.lastTarget = target.id;
    const requestId = this.nextRequestId++;
    this.requests[requestId] = { publisher, publish };
    const id = publish === null ? {} : { id: publish.id };
    this.network.send(publisher, target, { type: 'publish', requestId, topic, payload, ...id });
    return requestId;
  }

  /** The live dispatcher of `dc` whose turn it is (a load balancer with a health check), or null. */
  private inTurn(dc: DcId): DispatcherNode | null {
    const alive = this.nodes.dispatchersOf(dc).filter(isAlive);
    if (alive.length === 0) return null;
    const turn = this.dispatcherTurn.get(dc) ?? 0;
    this.dispatcherTurn.set(dc, turn + 1);
    return alive[turn % alive.length] ?? null;
  }

  /** The first live dispatcher of `dc` after `last`, in their order and round again to `last`; or null. */
  private after(dc: DcId, last: NodeId): DispatcherNode | null {
    const all = this.nodes.dispatchersOf(dc);
    const from = all.findIndex((d) => d.id === last);
    assert(from >= 0, `${last} is not a dispatcher of ${dc}`);
    for (let k = 1; k <= all.length; k++) {
      const next = all[(from + k) % all.length] as DispatcherNode;
      if (isAlive(next)) return next;
    }
    return null;
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
