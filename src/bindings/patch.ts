/**
 * Replacing a driver's prototype methods, and putting them back. Each
 * replacement is recorded so that `unbind()` restores the driver exactly.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- driver methods have any shape
type Method = (this: any, ...args: any[]) => unknown;

/** Undo steps, in the order the changes were made. */
const undos: Array<() => void> = [];
/** Marks a replacement so that a second bind never wraps a wrapper. */
const ORIGINAL = Symbol('reqprof.original');

/**
 * Replaces `target[name]` with `make(original)`; does nothing when it is not
 * the target's own function (another version of the driver; an inherited
 * method is patched where it is defined) or is already replaced. Returns
 * whether it replaced it.
 */
export function wrapMethod(target: object, name: string | symbol, make: (original: Method) => Method): boolean {
  const t = target as Record<string | symbol, unknown>;
  if (!Object.prototype.hasOwnProperty.call(t, name)) return false;
  const original = t[name];
  if (typeof original !== 'function' || (original as unknown as Record<symbol, unknown>)[ORIGINAL] !== undefined) return false;
  const replacement = make(original as Method);
  Object.defineProperty(replacement, ORIGINAL, { value: original });
  Object.defineProperty(replacement, 'name', { value: original.name });
  t[name] = replacement;
  undos.push(() => { t[name] = original; });
  return true;
}

/** Records an undo step for a change that is not a method replacement. */
export function onRestore(undo: () => void): void {
  undos.push(undo);
}

/** Undoes every change, newest first. */
export function restoreAll(): void {
  for (let u = undos.pop(); u !== undefined; u = undos.pop()) u();
}
