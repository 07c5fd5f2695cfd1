// The dashboard example's routes and the CPU (ms) each request burns. The
// real-Prometheus test imports this table to know what it should read back.
export const ROUTES = {
  'GET /api/checkout': { cpuMs: 24 },
  'GET /api/search': { cpuMs: 8 },
  'GET /api/users/:id': { cpuMs: 4 },
  // Fails after its work: a 500, counted as status="error".
  'GET /api/flaky': { cpuMs: 2, status: 500 },
};
