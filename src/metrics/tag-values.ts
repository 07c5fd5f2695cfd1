/**
 * The value of each of `keys` in a flat `[k1, v1, k2, v2]` tag list; '' where
 * a key is missing. Tag sets are small, so a scan beats building a map.
 */
export function tagValues(tags: readonly string[], keys: readonly string[]): string[] {
  const out = new Array<string>(keys.length).fill('');
  for (let i = 0; i + 1 < tags.length; i += 2) {
    const k = tags[i]!;
    for (let j = 0; j < keys.length; j++) if (keys[j] === k) out[j] = tags[i + 1]!;
  }
  return out;
}
