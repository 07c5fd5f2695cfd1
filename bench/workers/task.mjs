// The bench's task: a small fixed amount of work; returns its thread and that thread's CPU so far (µs).
import { threadId } from 'node:worker_threads';

function cpuNowUs() {
  const u = process.threadCpuUsage ? process.threadCpuUsage() : process.cpuUsage();
  return u.user + u.system;
}

let sink = 0;
export default function ({ iterations }) {
  let x = sink;
  for (let i = 0; i < iterations * 1000; i++) x = (x * 31 + 7) % 1_000_003;
  sink = x;
  return { threadId, cpuUs: cpuNowUs() };
}
