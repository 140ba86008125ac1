// What the browser compatibility tests share: Chromium and its flags, a page server that hosts an SDK bundle
// the way a website would, and a tab that records everything an SDK's page did wrong.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
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

const missing = !existsSync(CHROMIUM);
/** The `skip` option of a browser test: skipped where Chromium is missing, except under CI. */
export const skipWithoutChromium: string | false = missing
  ? `${CHROMIUM} is not installed (set CI=true to make this a failure)`
  : false;
if (missing && process.env.CI === 'true') {
  test('Chromium is installed (required under CI)', () => {
    assert.fail(`${CHROMIUM} is missing: CI must install chromium for the browser compatibility tests`);
  });
}

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

/** One file the page server answers: its content type and body. */
export type PageFile = [contentType: string, body: string | Buffer];

/** A website on its own origin: each path (query string ignored) answers its file, anything else 404. */
export function pageServer(files: Record<string, PageFile>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const file = files[(req.url ?? '/').split('?')[0] as string];
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    });
  });
}

export interface WatchedTab {
  tab: Page;
  /** Console errors and uncaught page errors. */
  errors: string[];
  /** Requests for anything but the allowed origins (an SDK's CDN, its vendor's API); refused. */
  elsewhere: string[];
  /** Answers of 400 or more, and requests that got no answer, as "METHOD url -> status". */
  failed: string[];
}

/** A new tab that records errors, refuses and records requests outside `origins`, and records failed requests. */
export async function watchedTab(browser: Browser, origins: string[]): Promise<WatchedTab> {
  const tab = await browser.newPage();
  const w: WatchedTab = { tab, errors: [], elsewhere: [], failed: [] };
  tab.on('console', (m) => {
    if (m.type() === 'error') w.errors.push(m.text());
  });
  tab.on('pageerror', (e) => w.errors.push(e.message));
  tab.on('response', (r) => {
    if (r.status() >= 400) w.failed.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
  });
  tab.on('requestfailed', (r) => {
    if (!w.elsewhere.includes(r.url())) {
      w.failed.push(`${r.method()} ${r.url()} -> ${r.failure()?.errorText ?? 'failed'}`);
    }
  });
  await tab.route('**/*', (route) => {
    const url = route.request().url();
    if (origins.some((o) => url.startsWith(o))) return route.continue();
    w.elsewhere.push(url);
    return route.abort();
  });
  return w;
}
