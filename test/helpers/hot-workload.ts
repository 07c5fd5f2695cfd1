/**
 * A workload whose CPU sits in named functions, one per route, so that tests can
 * check a profile points at the right one. Each function spins in its own loop
 * (its self time is its CPU), checking the clock only every few thousand rounds.
 */
import { tag } from '../../src/index.js';

export function renderInvoice(ms: number): number {
  const end = performance.now() + ms;
  let x = 1;
  while (performance.now() < end) {
    for (let i = 0; i < 20_000; i++) x = (x * 48271 + i) % 2_147_483_647;
  }
  return x;
}

export function listProducts(ms: number): number {
  const end = performance.now() + ms;
  let x = 7;
  while (performance.now() < end) {
    for (let i = 0; i < 20_000; i++) x = (x * 16807 + i) % 2_147_483_647;
  }
  return x;
}

export function checkoutCart(ms: number): number {
  const end = performance.now() + ms;
  let x = 3;
  while (performance.now() < end) {
    for (let i = 0; i < 20_000; i++) x = (x * 69621 + i) % 2_147_483_647;
  }
  return x;
}

export interface Route {
  tags: Record<string, string>;
  fn: (ms: number) => number;
  ms: number;
}

/** /heavy (renderInvoice) gets most of the CPU, /light (listProducts) less, /checkout little. */
export const ROUTES: Route[] = [
  { tags: { route: '/heavy', tenant: 'acme' }, fn: renderInvoice, ms: 6 },
  { tags: { route: '/light', tenant: 'globex' }, fn: listProducts, ms: 3 },
  { tags: { route: '/checkout', tenant: 'acme' }, fn: checkoutCart, ms: 1.5 },
];

/** Runs the routes in turn, each under its tags with an await inside, for `ms` of wall time. */
export async function runRoutes(ms: number, routes: Route[] = ROUTES): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const r of routes) {
      await tag(r.tags, async () => {
        await Promise.resolve();
        r.fn(r.ms);
      });
    }
    // Yield to timers (the profiler's window loop) between rounds.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
