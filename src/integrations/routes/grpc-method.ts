import { runWithTags } from '../../context.js';
import { countFinishedRequest } from '../../request-counter.js';
import { deriveTags } from '../../tag-cache.js';
import type { TagSet } from '../../tags.js';
import type { HeaderTag } from './auto-tag.js';

const kInstrumented = Symbol.for('reqprof.grpc.instrumented');

type Handler = (this: unknown, call: { metadata?: { get(key: string): unknown[] } }, ...rest: unknown[]) => unknown;
type ServerProto = {
  register?: (name: string, handler: Handler, ...rest: unknown[]) => unknown;
  [kInstrumented]?: true;
};

/**
 * Makes every @grpc/grpc-js server run each call's handler with the tags
 * `method` (the full method path, `/package.Service/Method`) and the header
 * tags read from the call's metadata: the handler, its response and
 * everything they start carry them. Patches `Server.prototype.register`
 * (which `addService` calls per method) once. Request messages of
 * client-streaming calls arrive from the connection, outside the call's
 * tags; each call is counted when its handler starts.
 */
export function instrumentGrpc(grpc: unknown, headerTags: readonly HeaderTag[]): void {
  const proto = (grpc as { Server?: { prototype?: ServerProto } } | undefined)?.Server?.prototype;
  if (proto === undefined || typeof proto.register !== 'function' || proto[kInstrumented]) return;
  const register = proto.register;
  proto.register = function registerTagged(this: unknown, name: string, handler: Handler, ...rest: unknown[]): unknown {
    if (typeof handler !== 'function') return register.call(this, name, handler, ...rest);
    const methodTags = deriveTags(undefined, ['method', String(name)]);
    const tagged = function (this: unknown, call: Parameters<Handler>[0], ...args: unknown[]): unknown {
      let tags: TagSet = methodTags;
      try {
        tags = withHeaderTags(methodTags, call, headerTags);
        countFinishedRequest(tags);
      } catch {
        // Metadata in an unexpected shape: the method tag alone.
      }
      return runWithTags(tags, () => handler.call(this, call, ...args));
    };
    return register.call(this, name, tagged, ...rest);
  };
  Object.defineProperty(proto, kInstrumented, { value: true });
}

function withHeaderTags(base: TagSet, call: Parameters<Handler>[0], headerTags: readonly HeaderTag[]): TagSet {
  if (headerTags.length === 0 || typeof call?.metadata?.get !== 'function') return base;
  const pairs: string[] = [];
  for (const h of headerTags) {
    const v = call.metadata.get(h.header)[0];
    if (typeof v === 'string' && v !== '') pairs.push(h.tag, v);
  }
  return pairs.length === 0 ? base : deriveTags(base, pairs);
}
