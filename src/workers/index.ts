/**
 * `reqprof/workers`: CPU of work a request sends to worker_threads, billed to
 * that request's tags and merged into the main profiler's windows.
 */
export { profileWorkers, type WorkerProfilingOptions } from './hub.js';
export { postWithTags, onTaggedMessage, unwrapMessage, type MessageTarget, type MessageSource } from './post.js';
export { instrumentPiscina, instrumentPiscinaClass, type PiscinaLike } from './piscina.js';
export { startWorkerSide, workerSideRunning } from './worker-side.js';
export { THREAD_TAG, type WorkersInfo, type ThreadCpu } from './window.js';
export type { WorkerSamplingConfig } from './protocol.js';
