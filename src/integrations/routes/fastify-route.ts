/** The parts of a Fastify request (4 and 5) that route templates are read from. */
export interface FastifyRoutedRequest {
  raw: unknown;
  /** Fastify >= 4.10: the matched route's options; `url` is its template. */
  routeOptions?: { url?: unknown };
  /** Fastify 4 before `routeOptions` (deprecated later). */
  routerPath?: unknown;
  /** Set by Fastify's 404 handler. */
  is404?: boolean;
}

/** The template of the route Fastify matched (`/users/:id`), or undefined for its 404 handler. */
export function fastifyRoute(request: FastifyRoutedRequest): string | undefined {
  if (request.is404 === true) return undefined;
  const url = request.routeOptions?.url ?? safeRouterPath(request);
  return typeof url === 'string' && url !== '' ? url : undefined;
}

function safeRouterPath(request: FastifyRoutedRequest): unknown {
  try {
    // Fastify 5 removed it; Fastify 4 warns only when it is read (and only then).
    return 'routeOptions' in request ? undefined : request.routerPath;
  } catch {
    return undefined;
  }
}
