/**
 * Replacing a driver's prototype methods, and putting them back. Each
 * replacement is recorded so that `unbind()` restores the driver exactly.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- driver methods have any shape
type Method = (this: any, ...args: any[]) => unknown;

interface Applied {
  target: Record<string, unknown>;
  name: string;
  original: unknown;
}

const applied: Applied[] = [];
/** Marks a replacement so that a second bind never wraps a wrapper. */
const ORIGINAL = Symbol('reqprof.original');

/**
 * Replaces `target[name]` with `make(original)`; does nothing when it is not a
 * function (another version of the driver) or is already replaced. Returns
 * whether it replaced it.
 */
export function wrapMethod(target: object, name: string, make: (original: Method) => Method): boolean {
  const t = target as Record<string, unknown>;
  // Only a class's own methods: an inherited one is patched where it is defined.
  if (!Object.prototype.hasOwnProperty.call(t, name)) return false;
  const original = t[name];
  if (typeof original !== 'function' || (original as unknown as Record<symbol, unknown>)[ORIGINAL] !== undefined) return false;
  const replacement = make(original as Method);
  Object.defineProperty(replacement, ORIGINAL, { value: original });
  Object.defineProperty(replacement, 'name', { value: original.name });
  t[name] = replacement;
  applied.push({ target: t, name, original });
  return true;
}

/** Puts back every replaced method, newest first. */
export function restoreAll(): void {
  for (let a = applied.pop(); a !== undefined; a = applied.pop()) a.target[a.name] = a.original;
}
