/**
 * reqprof/register's configuration: the environment. These variable names
 * are a public contract (docs/zero-code.md lists each with its default).
 */
import type { HeaderTag } from '../integrations/routes/auto-tag.js';

export type ProcessorName = 'log' | 'prometheus' | 'pprof' | 'html';
export const PROCESSOR_NAMES: readonly ProcessorName[] = ['log', 'prometheus', 'pprof', 'html'];

export interface RegisterConfig {
  enabled: boolean;
  processors: ProcessorName[];
  windowMs: number;
  intervalMs: number;
  samplingIntervalMicros: number;
  headerTags: HeaderTag[];
  pprofDir: string;
  reportFile: string;
  /** The debug endpoint's port; undefined: no endpoint. */
  debugPort: number | undefined;
  debugHost: string;
  /** Whether database and HTTP client drivers are bound to their callers (reqprof/bindings). */
  bindDrivers: boolean;
}

export const DEFAULTS = Object.freeze({
  processors: ['log'] as ProcessorName[],
  windowMs: 30_000,
  intervalMs: 0,
  samplingIntervalMicros: 10_000,
  pprofDir: 'reqprof-pprof',
  reportFile: 'reqprof-report.html',
  debugHost: '127.0.0.1',
});

/** One variable that could not be used: which, what it held, what is accepted. */
export interface ConfigProblem {
  variable: string;
  value: string;
  accepted: string;
}

export type ConfigResult = { ok: true; config: RegisterConfig } | { ok: false; problems: ConfigProblem[] };

type Env = Readonly<Record<string, string | undefined>>;

const MAX_TIMER_MS = 2_147_483_647;
/** RFC 9110 token characters, lower case (Node lower-cases header names). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** Tag keys that can also be Prometheus labels and OpenTelemetry attributes. */
const TAG_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_TAGS = new Set(['method', 'route']);

/** Reads the configuration from `env`; every bad variable is reported, none is guessed. */
export function parseRegisterConfig(env: Env): ConfigResult {
  const problems: ConfigProblem[] = [];
  const bad = (variable: string, accepted: string) => {
    problems.push({ variable, value: env[variable] ?? '', accepted });
  };
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const bool = (name: string, fallback: boolean): boolean => {
    const v = get(name);
    if (v === undefined) return fallback;
    if (/^(false|0|off|no)$/i.test(v)) return false;
    if (/^(true|1|on|yes)$/i.test(v)) return true;
    bad(name, 'true or false (also 1/0, on/off, yes/no)');
    return fallback;
  };
  const enabled = bool('REQPROF_ENABLED', true);
  const bindDrivers = bool('REQPROF_BIND_DRIVERS', true);

  let processors = DEFAULTS.processors;
  const p = get('REQPROF_PROCESSORS');
  if (p !== undefined) {
    const names = p.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
    if (names.length === 0 || names.some((n) => !(PROCESSOR_NAMES as readonly string[]).includes(n))) {
      bad('REQPROF_PROCESSORS', `a comma list of ${PROCESSOR_NAMES.join(', ')}`);
    } else processors = [...new Set(names)] as ProcessorName[];
  }

  const int = (name: string, fallback: number, min: number, max: number, unit: string): number => {
    const v = get(name);
    if (v === undefined) return fallback;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      bad(name, `an integer number of ${unit} from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const windowMs = int('REQPROF_WINDOW_MS', DEFAULTS.windowMs, 10, MAX_TIMER_MS, 'milliseconds');
  const intervalMs = int('REQPROF_INTERVAL_MS', DEFAULTS.intervalMs, 0, MAX_TIMER_MS, 'milliseconds');
  const samplingIntervalMicros = int('REQPROF_SAMPLING_INTERVAL_US', DEFAULTS.samplingIntervalMicros, 100, 1_000_000, 'microseconds');

  const headerTags: HeaderTag[] = [];
  const h = get('REQPROF_TAG_HEADERS');
  if (h !== undefined) {
    const parsed = parseHeaderTags(h);
    if (parsed === undefined) {
      bad('REQPROF_TAG_HEADERS', 'header:tag pairs separated by commas (e.g. x-tenant:tenant,x-caller:caller): a header name, ' +
        'a tag name of letters, digits and _ (not method or route), each tag once');
    } else headerTags.push(...parsed);
  }

  const debugPortText = get('REQPROF_DEBUG_PORT');
  const debugPort = debugPortText === undefined ? undefined : int('REQPROF_DEBUG_PORT', 0, 0, 65_535, 'a TCP port');

  const result: RegisterConfig = {
    enabled,
    processors,
    windowMs,
    intervalMs,
    samplingIntervalMicros,
    headerTags,
    pprofDir: get('REQPROF_PPROF_DIR') ?? DEFAULTS.pprofDir,
    reportFile: get('REQPROF_REPORT_FILE') ?? DEFAULTS.reportFile,
    debugPort,
    debugHost: get('REQPROF_DEBUG_HOST') ?? DEFAULTS.debugHost,
    bindDrivers,
  };
  return problems.length === 0 ? { ok: true, config: result } : { ok: false, problems };
}

function parseHeaderTags(text: string): HeaderTag[] | undefined {
  const out: HeaderTag[] = [];
  for (const item of text.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    if (colon < 0) return undefined;
    const header = entry.slice(0, colon).trim().toLowerCase();
    const tag = entry.slice(colon + 1).trim();
    if (!HEADER_NAME.test(header) || !TAG_NAME.test(tag) || RESERVED_TAGS.has(tag) || out.some((t) => t.tag === tag)) return undefined;
    out.push({ header, tag });
  }
  return out.length === 0 ? undefined : out;
}

/** The one log line of a bad variable. */
export function describeProblem(p: ConfigProblem): string {
  return `reqprof/register: ${p.variable}=${JSON.stringify(p.value)} is not valid: expected ${p.accepted}. The app runs without reqprof.`;
}
