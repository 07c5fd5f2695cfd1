/**
 * reqprof/register: CPU per route and per tenant with no change to the app.
 *
 *   node --import reqprof/register app.mjs      (ES modules and CommonJS apps)
 *   node --require reqprof/register app.js      (CommonJS apps)
 *
 * Configured by the REQPROF_* environment variables (docs/zero-code.md).
 */
import { startRegister, type Registered } from './start.js';

export type { Registered } from './start.js';
export type { RegisterConfig, ProcessorName } from './config.js';

/** What register started in this process (undefined when off, misconfigured, or on a worker thread). */
export const registered: Registered | undefined = startRegister(process.env);
