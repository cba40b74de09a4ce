// Goal: a simulated viewer resumes only from a place its current subscription reached, whatever the
// order in which joins, leaves and batches still on the client link come.
// Method: the cursor rules of viewer-cursors.ts driven step by step, as sim/world/clients.ts and production's clients drive them.
import { describe, expect, it } from 'vitest';
import { cursorJoined, cursorLeft, cursorReceived, type ViewerCursors } from './viewer-cursors.ts';

const at = (seq: number) => ({ epoch: 1, seq });

describe('a viewer keeps its cursors', () => {
  it('a fresh subscription starts at its joined position, and what arrives moves it forward only', () => {
    const cursors: ViewerCursors = new Map();
    cursorJoined(cursors, 'live', 'dc-a', at(4), false);
    cursorReceived(cursors, 'live', 'dc-a', 'e5', at(5));
    cursorReceived(cursors, 'live', 'dc-a', 'e3', at(3));
    expect(cursors.get('live')).toEqual({ topic: 'live', dc: 'dc-a', epoch: 1, seq: 5, lastEventId: 'e5' });
  });

  it('a join the viewer had already left again leaves no stale place: the next fresh join replaces it', () => {
    const cursors: ViewerCursors = new Map();
    // Left (unsubscribe sent) before the frontend processed the subscribe; then subscribed again.
    cursorLeft(cursors, 'live');
    cursorJoined(cursors, 'live', 'dc-a', at(55), false);
    cursorJoined(cursors, 'live', 'dc-a', at(56), false);
    expect(cursors.get('live')).toMatchObject({ seq: 56 });
  });

  it("a resume's join keeps the cursor it resumed from", () => {
    const cursors: ViewerCursors = new Map();
    cursorJoined(cursors, 'live', 'dc-a', at(2), false);
    cursorJoined(cursors, 'live', 'dc-a', at(7), true);
    expect(cursors.get('live')).toMatchObject({ seq: 2 });
  });

  it('a batch of a subscription left, arriving after the leave, makes no cursor', () => {
    const cursors: ViewerCursors = new Map();
    cursorJoined(cursors, 'live', 'dc-a', at(1), false);
    cursorLeft(cursors, 'live');
    cursorReceived(cursors, 'live', 'dc-a', 'e2', at(2));
    expect(cursors.has('live')).toBe(false);
  });
});
