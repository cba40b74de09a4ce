// Goal: the demo page works in a real browser through the client library: a like clicked in one
// tab raises the counter in every open tab, the counter survives a reload and counts the likes made
// while the page was away (resume from the stored cursor), "N watching" counts the open tabs, and a
// dead server shows "reconnecting…".
// Method: `stadium serve` defaults (role all, memory store) on a free port, tabs of headless
// Chromium driven by playwright-core; separate browser contexts where each needs its own storage.
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConfigFrom } from './config.ts';
import { startServer } from './server.ts';
import type { RunningServer } from './server.ts';
import { chromiumGate, chromiumPath } from './test-gate.ts';
import { closeTestServers, start } from './test-server.ts';

const chromiumAvailable = chromiumGate();

if (!chromiumAvailable.up && !chromiumAvailable.required) {
  it.skip(chromiumAvailable.skipMessage, () => {});
} else {
  describe('demo page in headless Chromium', () => {
    let server: RunningServer;
    let browser: Browser;

    beforeAll(async () => {
      if (!chromiumAvailable.up) throw new Error(chromiumAvailable.requiredMessage);
      const parsed = serveConfigFrom({ port: '0', logLevel: 'silent' }, {});
      if (!parsed.ok) throw new Error(parsed.error);
      server = await startServer(parsed.config);
      browser = await chromium.launch({
        executablePath: chromiumPath,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await closeTestServers();
    });

    const count = (page: Page): Promise<string | null> => page.textContent('#count');
    // A string runs in the page, where `document` exists; Node's type-check need not know it.
    const countIs = (page: Page, value: number): Promise<unknown> =>
      page.waitForFunction(`document.querySelector('#count')?.textContent === '${value}'`, undefined, {
        timeout: 10_000,
      });

    it('two tabs: a like clicked in one raises the counter in both', async () => {
      const context = await browser.newContext();
      const tabs = [await context.newPage(), await context.newPage()] as const;
      for (const tab of tabs) {
        await tab.goto(server.url);
        await tab.waitForSelector('body[data-live="true"]', { timeout: 10_000 });
        expect(await count(tab)).toBe('0');
      }
      await tabs[0].click('#like');
      for (const tab of tabs) await countIs(tab, 1);
      await tabs[1].click('#like');
      for (const tab of tabs) await countIs(tab, 2);
      expect([await count(tabs[0]), await count(tabs[1])]).toEqual(['2', '2']);
      await context.close();
    });

    const live = (page: Page): Promise<unknown> =>
      page.waitForSelector('body[data-state="open"]', { timeout: 10_000 });

    it('reload: the counter stays, and likes made while the page was away are counted once', async () => {
      const [mine, theirs] = [await browser.newContext(), await browser.newContext()];
      const page = await mine.newPage();
      const other = await theirs.newPage();
      await page.goto(server.url);
      await live(page);
      await other.goto(server.url);
      await live(other);
      await page.click('#like');
      await countIs(page, 1);
      await page.reload();
      await live(page);
      expect(await count(page)).toBe('1');
      // Away: two likes from the other browser. Back: resumed from the stored cursor.
      await page.goto('about:blank');
      await other.click('#like');
      await countIs(other, 2);
      await other.click('#like');
      await countIs(other, 3);
      await page.goto(server.url);
      await countIs(page, 3);
      await live(page);
      await page.click('#like');
      await countIs(page, 4);
      expect(await count(page)).toBe('4');
      await mine.close();
      await theirs.close();
    });

    it('"N watching": two tabs on the topic both show 2 watching; close one, the other shows 1', async () => {
      // A server of its own, so no other test's tab is counted; a short interval for a quick test.
      const watched = await start({ occupancyEveryMs: '200' });
      const context = await browser.newContext();
      const tabs = [await context.newPage(), await context.newPage()] as const;
      const watchingIs = (page: Page, value: number): Promise<unknown> =>
        page.waitForFunction(`document.body.dataset.watching === '${value}'`, undefined, { timeout: 10_000 });
      for (const tab of tabs) {
        await tab.goto(watched.url);
        await live(tab);
      }
      for (const tab of tabs) await watchingIs(tab, 2);
      for (const tab of tabs) expect(await tab.textContent('#watching')).toBe('2 watching');
      expect(await tabs[0].isVisible('#watching')).toBe(true);
      await tabs[1].close();
      await watchingIs(tabs[0], 1);
      expect(await tabs[0].textContent('#watching')).toBe('1 watching');
      await context.close();
    });

    it('the server dies: the page says reconnecting…', async () => {
      const doomed = await start();
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(doomed.url);
      await live(page);
      await doomed.close();
      await page.waitForSelector('body[data-state="reconnecting"]', { timeout: 10_000 });
      expect(await page.textContent('#status')).toBe('reconnecting…');
      await context.close();
    });
  });
}
