/**
 * The drill's HTML report opened in a real browser (Debian's Chromium, driven by playwright-core):
 * it renders without errors, loads nothing but itself, shows the verdict and the reasons, shows
 * hostile values as text, and prints to PDF for sign-off.
 *
 * Chromium comes from `scripts/services.sh up` (Debian package `chromium`). The tests are skipped
 * only where it is missing and cannot be installed (not root); as root a missing browser fails.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDrillHtml, type DrillResult } from '../../src/drill/index.js';

import { drillFixture, recordedDrill } from './fixtures/drill-results.js';

const CHROMIUM = '/usr/bin/chromium';

// Without the background-networking flags Chromium tries to reach Google's hosts at start-up,
// which this machine's closed network refuses. Playwright gives every launch a fresh, empty
// profile directory of its own (it rejects --user-data-dir in `args`).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const isRoot = process.getuid?.() === 0;
const skipReason =
  existsSync(CHROMIUM) || isRoot
    ? undefined
    : `${CHROMIUM} is not installed; install it with \`sudo bash scripts/services.sh up\``;

const HOSTILE = '<script>alert(1)</script>';
const HOSTILE_IMG = '<img src="x.png" onerror="alert(2)">';

/** The verdict label each fixture must show, as a person reads it. */
const VERDICTS: Record<string, string> = {
  passed: 'PASSED',
  'failed-fingerprint': 'FAILED',
  'failed-check': 'FAILED',
  'failed-rpo': 'FAILED',
  interrupted: 'ERROR (interrupted)',
};

/** What a page did while it was open: everything these tests require to stay empty or exact. */
interface Observed {
  readonly page: Page;
  readonly url: string;
  readonly requests: string[];
  readonly consoleErrors: string[];
  readonly pageErrors: string[];
  readonly dialogs: string[];
}

const title = 'drill HTML report in Chromium';

describe.skipIf(skipReason !== undefined)(
  skipReason === undefined ? title : `${title} — skipped: ${skipReason}`,
  () => {
    let dir: string;
    let browser: Browser | undefined;

    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) {
        throw new Error(`${CHROMIUM} is missing; run \`bash scripts/services.sh up\` (as root)`);
      }
      dir = await mkdtemp(join(tmpdir(), 'shipshape-report-browser-'));
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** Writes the report for `result` to a file and opens it by its file:// URL. */
    async function open(name: string, result: DrillResult): Promise<Observed> {
      const file = join(dir, `${name}.html`);
      await writeFile(file, renderDrillHtml(recordedDrill(result)));
      const context = await browser!.newContext();
      const page = await context.newPage();
      const observed: Observed = {
        page,
        url: pathToFileURL(file).href,
        requests: [],
        consoleErrors: [],
        pageErrors: [],
        dialogs: [],
      };
      page.on('request', (request) => observed.requests.push(request.url()));
      page.on('console', (message) => {
        if (message.type() === 'error') observed.consoleErrors.push(message.text());
      });
      page.on('pageerror', (error) => observed.pageErrors.push(error.message));
      page.on('dialog', (dialog) => {
        observed.dialogs.push(dialog.message());
        // An unanswered dialog would block the page; dismiss it and let the assertion fail.
        void dialog.dismiss();
      });
      await page.goto(observed.url, { waitUntil: 'load' });
      return observed;
    }

    /** The page loaded only itself and ran into no error and no dialog. */
    function expectClean(observed: Observed): void {
      expect(observed.requests).toEqual([observed.url]);
      expect(observed.consoleErrors).toEqual([]);
      expect(observed.pageErrors).toEqual([]);
      expect(observed.dialogs).toEqual([]);
    }

    it.each(Object.keys(VERDICTS))(
      'shows the %s report cleanly, with its verdict and reasons, and prints it to PDF',
      async (name) => {
        const result = drillFixture(name);
        const observed = await open(name, result);
        const { page } = observed;
        try {
          const label = page.locator('.verdict .label');
          expect(await label.isVisible()).toBe(true);
          expect((await label.innerText()).trim()).toBe(VERDICTS[name]);

          if (result.verdict === 'passed') {
            expect(await page.locator('#reasons').count()).toBe(0);
          } else {
            expect(result.reasons.length).toBeGreaterThan(0);
            for (const reason of result.reasons) {
              expect(await page.locator('#reasons li', { hasText: reason }).isVisible()).toBe(true);
            }
          }
          for (const id of ['objectives', 'timeline', 'evidence', 'sign-off']) {
            expect(await page.locator(`section#${id}`).isVisible(), id).toBe(true);
          }

          const pdf = await page.pdf({ format: 'A4' });
          expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
          expect(pdf.subarray(-1024).toString('latin1')).toContain('%%EOF');

          expectClean(observed);
        } finally {
          await page.context().close();
        }
      },
    );

    it('shows markup in recorded values as text and runs none of it', async () => {
      const result = drillFixture('failed-fingerprint');
      const hostile: DrillResult = {
        ...result,
        plan: { ...result.plan, serviceName: HOSTILE },
        reasons: [...result.reasons, `orders: ${HOSTILE}`, `sessions: ${HOSTILE_IMG}`],
      };
      const observed = await open('hostile', hostile);
      const { page } = observed;
      try {
        // The page's CSP would block an injected script anyway; these assertions catch the
        // escaping itself failing: the markup must be there as visible text, not as elements.
        expect(await page.locator('script, img').count()).toBe(0);
        expect(await page.locator('h1').innerText()).toContain(HOSTILE);
        expect(
          await page.locator('#reasons li', { hasText: `orders: ${HOSTILE}` }).isVisible(),
        ).toBe(true);
        expect(
          await page.locator('#reasons li', { hasText: `sessions: ${HOSTILE_IMG}` }).isVisible(),
        ).toBe(true);
        expectClean(observed);
      } finally {
        await page.context().close();
      }
    });
  },
);
