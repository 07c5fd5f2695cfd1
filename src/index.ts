export { newProfiler, Profiler, type ProfilerState } from './profiler.js';
export type { ProfilerOptions, ProfilerConfig } from './options.js';
export type { Processor, ProcessorNeeds, TagsProfile, HotFunction, WindowInfo, WindowEndReason } from './types.js';
export type { EngineMode } from './engine/types.js';
export type { EngineChoice } from './engine/index.js';
export { tag, untag, lookup, currentTagsObject } from './context.js';
export { TagSet, createTagSet, parseKey, type TagsInput, type TagValue } from './tags.js';
export { logProcessor, createLogProcessor, DEFAULT_TYPE_KEY } from './processors/log.js';
export { OVERFLOW_KEY, OVERFLOW_TAGS } from './aggregate.js';
export { shareMargin } from './share-interval.js';
export { ErrorCodes, isReqprofError, type ErrorCode, type ReqprofError } from './errors.js';
export type { Logger } from './logger.js';
export {
  withProfiler,
  withProfilerTransInfoTagging,
  withProfilerMessageTagging,
  withLogger,
  type ServerOption,
  type TransportInfo,
  type TransInfoTagging,
  type MessageTagging,
  type TaggingResult,
} from './integrations/options.js';
export { withTracer, withServiceName, withCallerHeader } from './tracer/options.js';
export { durationSeconds, type Tracer, type RPCInfo, type CallType, type CallSide, type TracedIntegration } from './tracer/types.js';
export { grpcCodeName, type GrpcStatusError } from './tracer/grpc-status.js';
export { traceHttpClients, type HttpClientTracing } from './clients/http-clients.js';
