/**
 * reqprof/fastify: per-request tags for Fastify 5, as a plugin.
 *
 *   await app.register(reqprofPlugin(withProfiler(p), withProfilerTransInfoTagging(fn),
 *     withProfilerMessageTagging(fn2)))
 *
 * Transport stage in `onRequest` (the route is already matched, so
 * `info.route` is the template); body parsing and validation run with those
 * tags; message stage in `preHandler` on `request.body`; the handler, its
 * reply and everything they start run with both stages' tags. Register the
 * plugin before your routes (it applies to the whole instance).
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { finishWithResponse } from './http-exchange.js';
import { deliverBodyEventsWithTags, httpFacts, httpTransportInfo } from './http-request.js';
import { resolveHookOptions, withProfilerTransInfoTagging, type ServerOption } from './options.js';
import { ROUTE_TAG, UNMATCHED_ROUTE } from '../routes/late-route.js';
import { ServerPipeline, settle, type RequestRecord } from './pipeline.js';

/**
 * Adds the `route` tag: the template of the matched route (`/users/:id`;
 * `(unmatched)` for Fastify's 404 handler), known before the body is read,
 * through a transport-stage tagging function like yours (on a duplicate
 * `route` key, the option given first wins).
 */
export function withRouteTag(): ServerOption {
  return withProfilerTransInfoTagging((info) => [ROUTE_TAG, info.route ?? UNMATCHED_ROUTE]);
}

/** Creates the plugin; `await app.register(reqprofPlugin(...options))` before your routes. */
export function reqprofPlugin(...options: ServerOption[]): FastifyPluginCallback {
  const pipeline = new ServerPipeline(resolveHookOptions(options, 'fastify', 'reqprofPlugin()'));
  const records = new WeakMap<FastifyRequest, RequestRecord>();

  function onRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const record = pipeline.begin(httpTransportInfo('fastify', request.raw, request, {
      url: request.url,
      route: request.routeOptions.url,
    }), httpFacts(request.raw));
    records.set(request, record);
    finishWithResponse(reply.raw, pipeline, record);
    // Fastify's body parser decodes in the raw request's 'end' listener: deliver it with the tags.
    deliverBodyEventsWithTags(request.raw, pipeline, record);
    settle(pipeline.transportStage(record, () => done()), (err) => done(err as Error));
  }

  function preHandler(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const record = records.get(request);
    if (record === undefined) {
      done();
      return;
    }
    settle(pipeline.messageStage(record, request.body, () => done()), (err) => done(err as Error));
  }

  // What the handler threw (Fastify answers it with an error status), for the tracers' finish.
  function onError(request: FastifyRequest, _reply: FastifyReply, error: Error, done: HookHandlerDoneFunction): void {
    const record = records.get(request);
    if (record !== undefined) pipeline.failed(record, error);
    done();
  }

  const plugin = function reqprof(fastify: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    if (pipeline.active) {
      fastify.addHook('onRequest', onRequest);
      fastify.addHook('preHandler', preHandler);
      if (pipeline.tracing) fastify.addHook('onError', onError);
    }
    done();
  };
  // What fastify-plugin does: the hooks apply to the whole instance, not an encapsulated child.
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  Object.defineProperty(plugin, Symbol.for('fastify.display-name'), { value: 'reqprof' });
  return plugin as FastifyPluginCallback;
}
