// Loaded with `node --import`: makes prom-client and @opentelemetry/* look not
// installed to ES module imports, as on a service that never installed them.
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === 'prom-client' || specifier.startsWith('@opentelemetry/')) {
    const err = new Error("Cannot find package '" + specifier + "' (hidden by the test)");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`));
