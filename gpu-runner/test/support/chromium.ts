/**
 * Test support: headless Chromium (Debian's `chromium`, installed by
 * scripts/system-deps.mjs) driven over the Chrome DevTools Protocol. A fresh
 * profile per launch, every background service off, and one page whose
 * console messages, exceptions and network requests are all recorded, so a
 * test can assert that a page logs nothing and fetches nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MiniWebSocket } from './websocket.ts';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--disable-default-apps',
  '--hide-scrollbars',
  '--remote-debugging-port=0',
];

type Params = Record<string, unknown>;
interface Pending {
  resolve: (value: Params) => void;
  reject: (error: Error) => void;
}

/** What a page did: anything in these lists is something a static report must not do. */
export interface PageLog {
  /** console.error/warn/assert calls, uncaught exceptions and browser log errors/warnings (CSP violations land here). */
  problems: string[];
  /** Every URL the page requested, the document itself included. */
  requests: string[];
  failedRequests: string[];
}

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: ((method: string, params: Params, sessionId?: string) => void)[] = [];

  private constructor(
    private readonly process: ChildProcess,
    private readonly ws: MiniWebSocket,
    private readonly profile: string,
  ) {
    ws.onmessage = (text) => {
      const msg = JSON.parse(text) as { id?: number; result?: Params; error?: { message: string }; method?: string; params?: Params; sessionId?: string };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`CDP: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else if (msg.method) {
        for (const l of this.listeners) l(msg.method, msg.params ?? {}, msg.sessionId);
      }
    };
    ws.onclose = () => {
      for (const p of this.pending.values()) p.reject(new Error('CDP connection closed'));
      this.pending.clear();
    };
  }

  static async launch(timeoutMs = 90_000): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'clafusion-chromium-'));
    const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`chromium did not open its DevTools port within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
        child.on('error', (e) => {
          clearTimeout(timer);
          reject(new Error(`cannot start ${CHROMIUM} (install it: apt-get install -y chromium): ${e.message}`));
        });
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`chromium exited with ${code} before opening its DevTools port:\n${stderr}`));
        });
        child.stderr!.on('data', (d) => {
          stderr += d;
          const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      });
      child.removeAllListeners('exit');
      return new Browser(child, await MiniWebSocket.connect(url), profile);
    } catch (e) {
      child.kill('SIGKILL');
      rmSync(profile, { recursive: true, force: true });
      throw e;
    }
  }

  send(method: string, params: Params = {}, sessionId?: string): Promise<Params> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  on(listener: (method: string, params: Params, sessionId?: string) => void): () => void {
    this.listeners.push(listener);
    return () => this.listeners.splice(this.listeners.indexOf(listener), 1);
  }

  /** A new tab with console, log and network recording on. */
  async newPage(): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const page = new Page(this, sessionId);
    await Promise.all(['Page.enable', 'Runtime.enable', 'Log.enable', 'Network.enable'].map((m) => page.send(m)));
    return page;
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.process.exitCode !== null || this.process.signalCode !== null) resolve();
      else this.process.once('exit', () => resolve());
    });
    await this.send('Browser.close').catch(() => undefined);
    this.ws.close();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(this.profile, { recursive: true, force: true });
  }
}

export class Page {
  readonly log: PageLog = { problems: [], requests: [], failedRequests: [] };

  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {
    browser.on((method, params, session) => {
      if (session !== sessionId) return;
      const p = params as Record<string, any>;
      switch (method) {
        case 'Runtime.consoleAPICalled':
          if (['error', 'warning', 'assert'].includes(p.type)) {
            this.log.problems.push(`console.${p.type}: ${(p.args ?? []).map((a: any) => a.value ?? a.description ?? '').join(' ')}`);
          }
          break;
        case 'Runtime.exceptionThrown':
          this.log.problems.push(`exception: ${p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text}`);
          break;
        case 'Log.entryAdded':
          if (p.entry?.level === 'error' || p.entry?.level === 'warning') this.log.problems.push(`log ${p.entry.level}: ${p.entry.text} ${p.entry.url ?? ''}`.trim());
          break;
        case 'Network.requestWillBeSent':
          this.log.requests.push(p.request?.url);
          break;
        case 'Network.loadingFailed':
          this.log.failedRequests.push(`${p.type ?? ''} ${p.errorText ?? ''}${p.blockedReason ? ` (${p.blockedReason})` : ''}`.trim());
          break;
      }
    });
  }

  send(method: string, params: Params = {}): Promise<Params> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Navigates and resolves after the load event and two animation frames. */
  async goto(url: string, timeoutMs = 90_000): Promise<void> {
    const loaded = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`page did not load within ${timeoutMs} ms: ${url}`));
      }, timeoutMs);
      const off = this.browser.on((method, _params, session) => {
        if (session === this.sessionId && method === 'Page.loadEventFired') {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
    const nav = (await this.send('Page.navigate', { url })) as { errorText?: string };
    if (nav.errorText) throw new Error(`navigation to ${url} failed: ${nav.errorText}`);
    await loaded;
    await this.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))');
  }

  /** Runs an expression in the page (promises awaited) and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as {
      result: { value: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`evaluate: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value;
  }

  async emulateColorScheme(scheme: 'light' | 'dark'): Promise<void> {
    await this.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: scheme }] });
  }

  /** A PNG of the page at `width` CSS pixels; the whole page, or its first `height` pixels. */
  async screenshot(path: string, options: { width: number; height?: number; scale?: number }): Promise<void> {
    const scale = options.scale ?? 1;
    await this.send('Emulation.setDeviceMetricsOverride', { width: options.width, height: options.height ?? 800, deviceScaleFactor: scale, mobile: false });
    let height = options.height;
    if (height === undefined) {
      const metrics = (await this.send('Page.getLayoutMetrics')) as { cssContentSize: { height: number } };
      height = Math.ceil(metrics.cssContentSize.height);
      await this.send('Emulation.setDeviceMetricsOverride', { width: options.width, height, deviceScaleFactor: scale, mobile: false });
    }
    const { data } = (await this.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
    await writeFile(path, Buffer.from(data, 'base64'));
  }
}
