/**
 * Progress output for long stages: a redrawn bar on a terminal, plain log
 * lines otherwise, so logs stay readable in CI and in files: one line per
 * stage change, per 10% step, or per new sub-step a stage announces without
 * advancing (e.g. "recording N1" after "recording N0", both at 0%).
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
  private fraction = -1;
  private message = '';
  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(stage: string, fraction: number, message: string): void {
    const f = Math.max(0, Math.min(1, fraction));
    const decile = Math.floor(f * 10);
    // Per-batch or per-layer updates advance the fraction and are folded into
    // 10% steps; a new message at an unchanged fraction is a new sub-step.
    const newStep = f === this.fraction && message !== this.message;
    const previous = { stage: this.stage, decile: this.decile };
    this.stage = stage;
    this.decile = decile;
    this.fraction = f;
    this.message = message;
    if (stage === previous.stage && decile === previous.decile && !newStep) return;
    this.stream.write(`[${stage}] ${decile * 10}% ${message}\n`);
  }

  done(): void {}
}
