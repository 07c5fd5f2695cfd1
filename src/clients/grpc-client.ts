/**
 * The tracer hook for @grpc/grpc-js clients, as a client interceptor:
 *
 *   new OrdersClient(address, credentials, { interceptors: [reqprofClientInterceptor(withTracer(t),
 *     withServiceName('checkout'), withCallerHeader('x-caller'))] })
 *
 * Exported from `reqprof/grpc`.
 */
import { InterceptingCall, Metadata, status, type Interceptor, type InterceptorOptions } from '@grpc/grpc-js';
import { resolveHookOptions, type ServerOption } from '../integrations/options.js';
import { callTypeOf, grpcStatusError, splitGrpcMethod } from '../tracer/grpc-status.js';
import { ClientTracing } from './client-tracing.js';

/**
 * A client interceptor that runs the tracers (`withTracer`) around every
 * call the client makes: `start` when the call is issued (in the caller's
 * context: `info.tags` are the tags of the request making the call), `finish`
 * when its status arrives (`info.status` is the gRPC code; a call the client
 * cancelled is `aborted`). With `withServiceName(name)` and
 * `withCallerHeader(key)`, every call carries `key: name` in its metadata, so
 * a reqprof server reads its caller from it. Message bytes are not counted
 * on the client (`bytesSent`/`bytesReceived` stay undefined).
 */
export function reqprofClientInterceptor(...options: ServerOption[]): Interceptor {
  const tracing = new ClientTracing(resolveHookOptions(options, 'grpc-client', 'reqprofClientInterceptor()'), 'grpc-client');
  const { serviceName, callerHeader } = tracing;
  return (opts: InterceptorOptions, nextCall) => {
    const def = opts.method_definition;
    const path = def.path;
    const service = splitGrpcMethod(path)[0];
    const info = tracing.begin({
      protocol: 'grpc',
      integration: 'grpc-client',
      service,
      method: path,
      route: path,
      httpMethod: 'POST',
      path,
      callType: callTypeOf(def.requestStream, def.responseStream),
      callee: service,
      host: opts.host,
      scheme: undefined,
    });
    let cancelled = false;
    return new InterceptingCall(nextCall(opts), {
      start(metadata: Metadata, _listener, next) {
        if (serviceName !== undefined && callerHeader !== undefined) metadata.set(callerHeader, serviceName);
        next(metadata, {
          onReceiveMessage(message, msgNext) {
            tracing.message(info, 'received');
            msgNext(message);
          },
          onReceiveStatus(st, statusNext) {
            tracing.finish(info, {
              status: st.code,
              aborted: cancelled && st.code === status.CANCELLED,
              error: st.code === status.OK ? undefined : grpcStatusError(st.code, st.details),
            });
            statusNext(st);
          },
        });
      },
      sendMessage(message, next) {
        tracing.message(info, 'sent');
        next(message);
      },
      cancel(next) {
        cancelled = true;
        next();
      },
    });
  };
}
