// Reads a pprof-format Profile (the object @datadog/pprof builds, or one
// decoded from the wire) sample by sample: its CPU, its labels and the names
// of the functions on its stack. Used to check attribution against the code
// that really ran, not only against totals.
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';

/** Decodes a pprof upload body (gzipped or not). */
export function decodeProfile(buf) {
  const bytes = buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf;
  return Profile.decode(bytes);
}

/**
 * Calls `fn({ cpu, labels, stack })` per sample: `cpu` in ns (the
 * `cpu/nanoseconds` value), `labels` a plain object, `stack` function names
 * leaf first.
 */
export function forEachSample(profile, fn) {
  const str = (i) => profile.stringTable.strings[Number(i)] ?? '';
  const cpuIndex = profile.sampleType.findIndex((t) => str(t.type) === 'cpu');
  if (cpuIndex < 0) throw new Error(`profile has no cpu sample type (types: ${profile.sampleType.map((t) => str(t.type)).join(', ')})`);
  const fnNames = new Map(profile.function.map((f) => [Number(f.id), str(f.name)]));
  const locNames = new Map(profile.location.map((l) => [Number(l.id), l.line.map((ln) => fnNames.get(Number(ln.functionId)) ?? '')]));
  for (const s of profile.sample) {
    const labels = {};
    for (const l of s.label ?? []) labels[str(l.key)] = str(l.str);
    const stack = [];
    for (const id of s.locationId) stack.push(...(locNames.get(Number(id)) ?? []));
    fn({ cpu: Number(s.value[cpuIndex]), labels, stack });
  }
}
