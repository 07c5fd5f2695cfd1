/**
 * Tags across `Worker#postMessage` / `MessagePort#postMessage`: the sender
 * wraps the message with its tags (only while a profiler runs in its thread),
 * the receiver's listener gets the original message and runs under those tags.
 */
import { Worker, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { currentTags } from '../context.js';
import { optionTypeError } from '../errors.js';
import { watchWorker, workerHub } from './hub.js';
import { ENVELOPE, isEnvelope, type Envelope } from './protocol.js';
import { runInEnvelope, samplingToPassOn } from './worker-side.js';

/** Anything with Node's `postMessage(value, transferList?)`. */
export interface MessageTarget {
  postMessage(value: unknown, transferList?: readonly TransferListItem[]): void;
}

/** Anything with Node's `on('message', listener)` / `off`. */
export interface MessageSource {
  on(event: 'message', listener: (value: unknown) => void): unknown;
  off(event: 'message', listener: (value: unknown) => void): unknown;
}

/** Wraps `payload` with the current tags, or returns undefined when no profiler runs in this thread. */
export function wrapWithTags<T>(payload: T): Envelope<T> | undefined {
  const config = samplingToPassOn();
  if (config === undefined) return undefined;
  workerHub();
  const tags = currentTags();
  return { [ENVELOPE]: 1, tags: tags === undefined ? [] : tags.pairs.slice(), config, payload };
}

/**
 * `target.postMessage(message, transferList)` that carries the caller's tags
 * to the receiver's `onTaggedMessage` listener. Without a running profiler it
 * posts `message` exactly as given. Objects in `transferList` are transferred
 * as usual (they may sit anywhere inside `message`).
 */
export function postWithTags(target: MessageTarget | Worker | MessagePort, message: unknown, transferList?: readonly TransferListItem[]): void {
  const env = wrapWithTags(message);
  if (env === undefined) {
    if (transferList === undefined) target.postMessage(message);
    else target.postMessage(message, transferList as TransferListItem[]);
    return;
  }
  if (target instanceof Worker) watchWorker(target);
  if (transferList === undefined) target.postMessage(env);
  else target.postMessage(env, transferList as TransferListItem[]);
}

/**
 * Listens for messages on `source` (a `parentPort`, `MessagePort` or `Worker`);
 * a message sent with `postWithTags` reaches `listener` unwrapped and runs
 * under the sender's tags (starting this worker's sampler on first use), any
 * other message reaches it as is. Returns a function that removes the listener.
 */
export function onTaggedMessage(source: MessageSource | MessagePort | Worker, listener: (message: unknown) => void): () => void {
  if (typeof listener !== 'function') throw optionTypeError(`reqprof: onTaggedMessage(source, listener): listener must be a function, got ${typeof listener}`);
  const s = source as MessageSource;
  const handler = (value: unknown): void => {
    if (isEnvelope(value)) runInEnvelope(value, () => listener(value.payload));
    else listener(value);
  };
  s.on('message', handler);
  return () => {
    s.off('message', handler);
  };
}

/** The message as the app sent it, and a function running code under its tags (for code that reads messages itself). */
export function unwrapMessage<T = unknown>(value: unknown): { message: T; run<R>(fn: () => R): R } {
  if (!isEnvelope(value)) return { message: value as T, run: (fn) => fn() };
  return { message: value.payload as T, run: (fn) => runInEnvelope(value, fn) };
}
