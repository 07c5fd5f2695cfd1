import { Function as PprofFunction, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';

type Numeric = number | bigint;

/** The span a merged profile says it covers. */
export interface ProfileSpan {
  startMs: number;
  durationMs: number;
}

/**
 * Merges labelled pprof profiles (of consecutive windows) into one, as a pull
 * scraper wants a single profile per request: strings, functions, locations and
 * mappings are re-indexed into one table each, and samples with the same stack
 * and labels are summed. Profiles whose sample types differ from the first one's
 * are left out (they cannot be added up). The inputs are not changed.
 */
export function mergeProfiles(profiles: readonly Profile[], span: ProfileSpan): Profile {
  const strings = new StringTable();
  const str = (table: StringTable, i: Numeric): number => strings.dedup(table.strings[Number(i)] ?? '');
  const first = profiles[0];
  const out = new Profile({
    stringTable: strings,
    sampleType: first ? first.sampleType.map((t) => new ValueType({ type: str(first.stringTable, t.type), unit: str(first.stringTable, t.unit) })) : emptySampleTypes(strings),
    timeNanos: BigInt(Math.floor(span.startMs)) * 1_000_000n,
    durationNanos: BigInt(Math.max(0, Math.round(span.durationMs))) * 1_000_000n,
  });
  if (first) {
    const s = first.stringTable;
    if (first.periodType) out.periodType = new ValueType({ type: str(s, first.periodType.type), unit: str(s, first.periodType.unit) });
    out.period = first.period;
    out.defaultSampleType = str(s, first.defaultSampleType);
  }
  const typeKey = (p: Profile): string => p.sampleType.map((t) => `${p.stringTable.strings[Number(t.type)]}/${p.stringTable.strings[Number(t.unit)]}`).join(',');
  const wantedTypes = first ? typeKey(first) : '';

  const functionIds = new Map<string, number>();
  const locationIds = new Map<string, number>();
  const mappingIds = new Map<string, number>();
  const samples = new Map<string, Sample>();

  for (const p of profiles) {
    if (typeKey(p) !== wantedTypes) continue;
    const t = p.stringTable;
    const mappingMap = new Map<string, number>();
    for (const m of p.mapping) {
      const filename = str(t, m.filename);
      const buildId = str(t, m.buildId);
      const key = `${m.memoryStart}:${m.memoryLimit}:${m.fileOffset}:${filename}:${buildId}`;
      let id = mappingIds.get(key);
      if (id === undefined) {
        id = out.mapping.length + 1;
        mappingIds.set(key, id);
        out.mapping.push(new Mapping({ ...m, id, filename, buildId }));
      }
      mappingMap.set(String(m.id), id);
    }
    const functionMap = new Map<string, number>();
    for (const f of p.function) {
      const name = str(t, f.name);
      const systemName = str(t, f.systemName);
      const filename = str(t, f.filename);
      const key = `${name}:${systemName}:${filename}:${f.startLine}`;
      let id = functionIds.get(key);
      if (id === undefined) {
        id = out.function.length + 1;
        functionIds.set(key, id);
        out.function.push(new PprofFunction({ id, name, systemName, filename, startLine: f.startLine }));
      }
      functionMap.set(String(f.id), id);
    }
    const locationMap = new Map<string, number>();
    for (const l of p.location) {
      const mappingId = mappingMap.get(String(l.mappingId)) ?? 0;
      const lines = l.line.map((ln) => new Line({ functionId: functionMap.get(String(ln.functionId)) ?? 0, line: ln.line, column: ln.column }));
      const key = `${mappingId}:${l.address}:${l.isFolded ? 1 : 0}:${lines.map((ln) => `${ln.functionId}.${ln.line}.${ln.column}`).join(',')}`;
      let id = locationIds.get(key);
      if (id === undefined) {
        id = out.location.length + 1;
        locationIds.set(key, id);
        out.location.push(new Location({ id, mappingId, address: l.address, line: lines, isFolded: l.isFolded }));
      }
      locationMap.set(String(l.id), id);
    }
    for (const s of p.sample) {
      const locationId = s.locationId.map((id) => locationMap.get(String(id)) ?? 0);
      const label = s.label.map((l) => new Label({ key: str(t, l.key), str: str(t, l.str), num: l.num, numUnit: str(t, l.numUnit) }));
      const key = `${locationId.join(',')}|${label.map((l) => `${l.key}=${l.str}:${l.num}:${l.numUnit}`).join(',')}`;
      const known = samples.get(key);
      if (known) {
        known.value = known.value.map((v, i) => add(v, s.value[i] ?? 0));
      } else {
        samples.set(key, new Sample({ locationId, value: s.value.slice(), label }));
      }
    }
  }
  out.sample = [...samples.values()];
  return out;
}

function add(a: Numeric, b: Numeric): Numeric {
  return typeof a === 'bigint' || typeof b === 'bigint' ? BigInt(a) + BigInt(b) : a + b;
}

/** The sample types of reqprof's profiles, for a merge of nothing (a valid, empty profile). */
function emptySampleTypes(strings: StringTable): ValueType[] {
  return [['sample', 'count'], ['wall', 'nanoseconds'], ['cpu', 'nanoseconds']].map(([type, unit]) => new ValueType({ type: strings.dedup(type!), unit: strings.dedup(unit!) }));
}
