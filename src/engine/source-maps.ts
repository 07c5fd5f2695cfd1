import type { FunctionTotals } from './types.js';
import { loadPprof } from './native.js';

/** Source-map lookup for frames of compiled code, backed by @datadog/pprof's SourceMapper. */
export interface SourceMapperLike {
  /** Handed to the native sampler so pprof profiles point at sources. */
  native: unknown;
  /** Maps one generated function location to its source location. */
  map(f: FunctionTotals): { name?: string; file?: string; line?: number };
}

interface NativeMapper {
  hasMappingInfo(file: string): boolean;
  mappingInfo(loc: { file: string; line: number; column: number; name?: string }): { file?: string; line?: number; name?: string };
}

export async function createSourceMapper(dirs: string[]): Promise<SourceMapperLike> {
  const { SourceMapper } = loadPprof();
  const native = (await SourceMapper.create(dirs)) as unknown as NativeMapper;
  return {
    native,
    map(f) {
      if (!f.file || !f.line) return f;
      const file = f.file.startsWith('file://') ? new URL(f.file).pathname : f.file;
      if (!native.hasMappingInfo(file)) return f;
      const m = native.mappingInfo({ file, line: f.line, column: f.column, name: f.name });
      return { name: m.name || f.name, file: m.file ?? f.file, line: m.line ?? f.line };
    },
  };
}
