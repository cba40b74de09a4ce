/**
 * Publishing: check a publish, stamp its event, ask the store for the topic's frontends, deliver
 * to each, and answer the publisher — with a warning when viewers may have been missed. The rules
 * are in `core/dispatcher.ts`'s theory of operation.
 */
import { assert, increment } from './assert.ts';
import { forwardToPeers } from './dispatcher-forwarding.ts';
import type { DispatcherState, Publisher, StorePurpose } from './dispatcher-state.ts';
import { appendToHistory } from './dispatcher-reliable.ts';
import { requestStore } from './dispatcher-store.ts';
import { hasRoom } from './pending.ts';
import type {
  Effect,
  Event,
  Ms,
  PublishRequest,
  PublishResult,
  PublishWarning,
  StoreReply,
} from './types.ts';
import { payloadError, publisherEventIdError, serverEventIdMarker, topicError } from './validation.ts';

export function onPublish(
  state: DispatcherState,
  publisher: Publisher,
  request: PublishRequest,
  now: Ms,
  effects: Effect[],
): void {
  const refuse = (result: Extract<PublishResult, { ok: false }>): void => {
    increment(state.counters, `publishes-refused-${result.code}`);
    replyToPublisher(publisher, result, effects);
  };
  const topicProblem = topicError(request.topic);
  if (topicProblem !== null) return refuse({ ok: false, code: 'bad-topic', message: topicProblem });
  const payloadProblem = payloadError(request.payload, state.config.limits.payloadBytesMax);
  if (payloadProblem !== null) return refuse({ ok: false, ...payloadProblem });
  if (request.id !== undefined) {
    const idProblem = publisherEventIdError(request.id);
    if (idProblem !== null) return refuse({ ok: false, code: 'bad-id', message: idProblem });
  }
  if (!hasRoom(state.pendingStore)) {
    return refuse({
      ok: false,
      code: 'overloaded',
      message: `dispatcher has ${state.pendingStore.entries.size} requests in flight`,
      retryAfterMs: state.config.retryAfterMs,
    });
  }
  const event: Event = {
    id: request.id ?? `${serverEventIdMarker}${state.config.idPrefix}${state.nextEventSeq++}`,
    topic: request.topic,
    origin: state.config.dc,
    publishedAtMs: now,
    payload: request.payload,
  };
  increment(state.counters, 'publishes-accepted');
  effects.push({ kind: 'published', event });
  if (state.config.mode === 'reliable') {
    // Forwarded only once appended here: no peer holds an event its origin does not.
    const appending = appendToHistory(
      state,
      { kind: 'append', event, publisher, forward: null },
      now,
      effects,
    );
    assert(appending, 'the pending bound was checked above');
    return;
  }
  const sent = requestStore(
    state,
    { op: 'lookup', topic: event.topic },
    { kind: 'fan-out', event, publisher },
    now,
    effects,
  );
  assert(sent, 'the pending bound was checked above');
  forwardToPeers(state, event, now, effects);
}

/** The store answered a fan-out lookup: deliver to every live frontend, then answer the publisher. */
export function onLookupReply(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'fan-out' }>,
  reply: StoreReply,
  effects: Effect[],
): void {
  const { event, publisher } = purpose;
  if (reply.op !== 'frontends') {
    increment(state.counters, 'lookups-refused');
    effects.push({
      kind: 'drop',
      reason: 'store-full',
      eventId: event.id,
      topic: event.topic,
      dc: state.config.dc,
    });
    if (publisher !== null) {
      const message = reply.op === 'rejected' ? reply.message : 'store gave an unexpected answer';
      replyToPublisher(
        publisher,
        { ok: false, code: 'store-unavailable', message, retryAfterMs: state.config.retryAfterMs },
        effects,
      );
    }
    return;
  }
  increment(state.counters, 'fan-outs');
  increment(state.counters, 'delivers-sent', reply.frontends.length);
  for (const frontend of reply.frontends)
    effects.push({ kind: 'send', target: frontend, message: { type: 'deliver', event } });
  if (publisher === null) return;
  const warning = publishWarning(state, reply);
  if (warning !== null) increment(state.counters, `publishes-warned-${warning.code}`);
  replyToPublisher(
    publisher,
    warning === null ? { ok: true, eventId: event.id } : { ok: true, eventId: event.id, warning },
    effects,
  );
}

/** The store did not answer a fan-out lookup in time: the event reached nobody here. */
export function onLookupTimedOut(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'fan-out' }>,
  effects: Effect[],
): void {
  const { event, publisher } = purpose;
  effects.push({
    kind: 'drop',
    reason: 'store-timeout',
    eventId: event.id,
    topic: event.topic,
    dc: state.config.dc,
  });
  if (publisher === null) return;
  // A server-assigned id cannot be reused by the publisher: only its own id makes a retry idempotent.
  const retry = event.id.startsWith(serverEventIdMarker)
    ? 'retry, with an id of your own to make retries idempotent'
    : `retry with id ${event.id}`;
  replyToPublisher(
    publisher,
    {
      ok: false,
      code: 'store-unavailable',
      message: `the subscription store of ${state.config.dc} did not answer in ${state.config.storeRequestTimeoutMs} ms; ${retry}`,
      retryAfterMs: state.config.retryAfterMs,
    },
    effects,
  );
}

/** Why a publish fanned out with this lookup may have missed viewers, or null when it may not. */
function publishWarning(
  state: DispatcherState,
  reply: Extract<StoreReply, { op: 'frontends' }>,
): PublishWarning | null {
  const dc = state.config.dc;
  if (reply.epochAgeMs < state.config.storeRebuildWindowMs) {
    return {
      code: 'store-rebuilding',
      message: `the subscription store of ${dc} holds data only ${reply.epochAgeMs} ms old (it is new, or it lost its data) and frontends may still be registering their viewers: some may miss this event; republish it with your own id after ${state.config.storeRebuildWindowMs - reply.epochAgeMs} ms to reach them`,
    };
  }
  if (reply.lapsed.length > 0) {
    return {
      code: 'frontend-lapsed',
      message: `${reply.lapsed.length} frontend(s) of ${dc} with viewers of this topic let their lease lapse without unsubscribing (frozen, cut off or dead): their viewers, if still connected, miss this event`,
    };
  }
  return null;
}

export function replyToPublisher(publisher: Publisher, result: PublishResult, effects: Effect[]): void {
  if (publisher.kind === 'host') {
    effects.push({ kind: 'publish-reply', publishId: publisher.publishId, result });
    return;
  }
  effects.push({
    kind: 'send',
    target: publisher.source,
    message: { type: 'publish-reply', requestId: publisher.requestId, result },
  });
}
