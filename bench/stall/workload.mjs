// A synthetic service with a few thousand distinct stacks: 50 route handlers,
// each calling its own 10 middle functions, each calling its own 12 leaves
// (6000 distinct leaf stacks, every function generated with its own name), driven
// by a fixed number of concurrent "requests" on the event loop. What a window's
// stop has to serialize grows with the distinct stacks sampled, so this is what
// makes the rollover cost realistic.

const HANDLERS = 50;
const MIDS = 10;
const LEAVES = 12;

function build() {
  const handlers = [];
  for (let h = 0; h < HANDLERS; h++) {
    const mids = [];
    for (let m = 0; m < MIDS; m++) {
      const leaves = [];
      for (let l = 0; l < LEAVES; l++) {
        // eslint-disable-next-line no-new-func
        leaves.push(new Function(`return function leaf_${h}_${m}_${l}(n) {
          let x = ${h * 7 + m * 3 + l};
          for (let i = 0; i < n; i++) x = (x * 33 + i) % 1000003;
          return x;
        }`)());
      }
      // eslint-disable-next-line no-new-func
      mids.push(new Function('leaves', `return function mid_${h}_${m}(k, n) {
        return leaves[k % ${LEAVES}](n) + leaves[(k * 7 + 3) % ${LEAVES}](n);
      }`)(leaves));
    }
    // eslint-disable-next-line no-new-func
    handlers.push(new Function('mids', `return function route_${h}(k, n) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += mids[(k + j * 3) % ${MIDS}](k + j, n);
      return s;
    }`)(mids));
  }
  return handlers;
}

const handlers = build();
export const DISTINCT_LEAF_STACKS = HANDLERS * MIDS * LEAVES;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nextTurn = () => new Promise((r) => setImmediate(r));

/**
 * Runs `workers` request loops until `stop()`: each request picks a route,
 * runs it (wrapped by `wrap(tags, fn)`, e.g. reqprof's tag), yields a turn,
 * runs it again, then the worker pauses 1 ms. Returns `{ stop, requests() }`.
 */
export function drive({ workers = 8, iterations = 1500, wrap = (_tags, fn) => fn() } = {}) {
  let stopped = false;
  let count = 0;
  let seed = 1;
  async function request(h, k) {
    handlers[h](k, iterations);
    await nextTurn();
    handlers[h](k + 1, iterations);
  }
  async function worker(w) {
    while (!stopped) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const h = seed % HANDLERS;
      const k = (seed >> 8) % 997;
      await wrap({ route: `route-${h}`, tenant: `tenant-${w}` }, () => request(h, k));
      count++;
      await sleep(1);
    }
  }
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    requests: () => count,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}
