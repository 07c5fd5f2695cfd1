import type { Logger } from '../../src/index.js';

/** A pino-compatible logger that keeps records in memory, for assertions. */
export class MemoryLogger implements Logger {
  readonly records: Array<{ level: string; obj: Record<string, unknown>; msg: string | undefined }> = [];
  info(obj: object, msg?: string): void {
    this.records.push({ level: 'info', obj: obj as Record<string, unknown>, msg });
  }
  warn(obj: object, msg?: string): void {
    this.records.push({ level: 'warn', obj: obj as Record<string, unknown>, msg });
  }
  error(obj: object, msg?: string): void {
    this.records.push({ level: 'error', obj: obj as Record<string, unknown>, msg });
  }
  matching(re: RegExp): number {
    return this.records.filter((r) => re.test(r.msg ?? '')).length;
  }
}
