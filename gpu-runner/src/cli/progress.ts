/**
 * Progress output for long stages: a redrawn bar on a terminal, plain log
 * lines (one per stage change or 10% step) otherwise, so logs stay readable
 * in CI and in files.
 */
export interface ProgressSink {
  update(stage: string, fraction: number, message: string): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, enabled = true): ProgressSink {
  if (!enabled) return { update() {}, done() {} };
  return stream.isTTY ? new TerminalBar(stream) : new LogLines(stream);
}

class TerminalBar implements ProgressSink {
  private last = '';
  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(stage: string, fraction: number, message: string): void {
    const width = 24;
    const f = Math.max(0, Math.min(1, fraction));
    const filled = Math.round(f * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const columns = this.stream.columns ?? 100;
    const line = `${stage.padEnd(12)} ${bar} ${String(Math.round(f * 100)).padStart(3)}% ${message}`.slice(0, columns - 1);
    if (line === this.last) return;
    this.last = line;
    this.stream.write(`\r\x1b[2K${line}`);
  }

  done(): void {
    if (this.last) this.stream.write('\r\x1b[2K');
    this.last = '';
  }
}

class LogLines implements ProgressSink {
  private stage = '';
  private decile = -1;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(stage: string, fraction: number, message: string): void {
    const decile = Math.floor(Math.max(0, Math.min(1, fraction)) * 10);
    if (stage === this.stage && decile === this.decile) return;
    this.stage = stage;
    this.decile = decile;
    this.stream.write(`[${stage}] ${decile * 10}% ${message}\n`);
  }

  done(): void {}
}
