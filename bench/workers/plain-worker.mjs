// The plain-Worker variant of the bench task, listening through onTaggedMessage (unwrapped messages pass as is).
import { parentPort } from 'node:worker_threads';
import { onTaggedMessage } from '../../dist/esm/workers/index.js';
import task from './task.mjs';

onTaggedMessage(parentPort, (m) => parentPort.postMessage({ id: m.id, ...task(m) }));
