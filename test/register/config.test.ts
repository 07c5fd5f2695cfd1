/**
 * reqprof/register's environment: the defaults a user gets with no variable
 * set, and one clear problem per bad variable.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeProblem, parseRegisterConfig } from '../../src/register/config.js';

describe('REQPROF_* variables', () => {
  it('with none set: log processor, 30 s windows back to back, 100 Hz, no header tags, no debug endpoint', () => {
    const r = parseRegisterConfig({});
    assert.ok(r.ok);
    assert.deepEqual(r.config, {
      enabled: true, processors: ['log'], windowMs: 30_000, intervalMs: 0, samplingIntervalMicros: 10_000, headerTags: [],
      pprofDir: 'reqprof-pprof', reportFile: 'reqprof-report.html', debugPort: undefined, debugHost: '127.0.0.1', bindDrivers: true,
    });
  });

  it('every variable, as documented', () => {
    const r = parseRegisterConfig({
      REQPROF_ENABLED: 'true', REQPROF_PROCESSORS: 'log, prometheus,pprof,html', REQPROF_WINDOW_MS: '5000', REQPROF_INTERVAL_MS: '1000',
      REQPROF_SAMPLING_INTERVAL_US: '1000', REQPROF_TAG_HEADERS: 'X-Tenant:tenant, x-caller:caller', REQPROF_PPROF_DIR: '/tmp/p',
      REQPROF_REPORT_FILE: '/tmp/r.html', REQPROF_DEBUG_PORT: '6060', REQPROF_DEBUG_HOST: '0.0.0.0',
    });
    assert.ok(r.ok);
    assert.deepEqual(r.config.processors, ['log', 'prometheus', 'pprof', 'html']);
    assert.deepEqual(r.config.headerTags, [{ header: 'x-tenant', tag: 'tenant' }, { header: 'x-caller', tag: 'caller' }]);
    assert.equal(r.config.windowMs, 5000);
    assert.equal(r.config.intervalMs, 1000);
    assert.equal(r.config.samplingIntervalMicros, 1000);
    assert.equal(r.config.debugPort, 6060);
    assert.equal(r.config.debugHost, '0.0.0.0');
  });

  it('REQPROF_ENABLED=false turns it off; 0, off and no too', () => {
    for (const v of ['false', '0', 'OFF', 'no']) {
      const r = parseRegisterConfig({ REQPROF_ENABLED: v });
      assert.ok(r.ok && !r.config.enabled, v);
    }
  });

  it('REQPROF_BIND_DRIVERS=false leaves the database and HTTP client drivers unbound; a bad value is named', () => {
    const r = parseRegisterConfig({ REQPROF_BIND_DRIVERS: 'false' });
    assert.ok(r.ok && !r.config.bindDrivers);
    const bad = parseRegisterConfig({ REQPROF_BIND_DRIVERS: 'sometimes' });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.problems.map((p) => p.variable), ['REQPROF_BIND_DRIVERS']);
  });

  it('each bad variable is named with its value and what is accepted', () => {
    const r = parseRegisterConfig({
      REQPROF_ENABLED: 'maybe', REQPROF_PROCESSORS: 'log,statsd', REQPROF_WINDOW_MS: '5', REQPROF_INTERVAL_MS: '-1',
      REQPROF_SAMPLING_INTERVAL_US: '1e4', REQPROF_TAG_HEADERS: 'x-tenant', REQPROF_DEBUG_PORT: '70000',
    });
    assert.ok(!r.ok);
    assert.deepEqual(r.problems.map((p) => p.variable), [
      'REQPROF_ENABLED', 'REQPROF_PROCESSORS', 'REQPROF_WINDOW_MS', 'REQPROF_INTERVAL_MS', 'REQPROF_SAMPLING_INTERVAL_US', 'REQPROF_TAG_HEADERS', 'REQPROF_DEBUG_PORT',
    ]);
    const line = describeProblem(r.problems.find((p) => p.variable === 'REQPROF_PROCESSORS')!);
    assert.equal(line, 'reqprof/register: REQPROF_PROCESSORS="log,statsd" is not valid: expected a comma list of log, prometheus, pprof, html. The app runs without reqprof.');
  });

  it('header tags may not reuse method or route, repeat a tag, or use a tag name Prometheus cannot take', () => {
    for (const v of ['x-a:route', 'x-a:method', 'x-a:t,x-b:t', 'x-a:my-tag', 'bad header:t', ':t']) {
      assert.equal(parseRegisterConfig({ REQPROF_TAG_HEADERS: v }).ok, false, v);
    }
  });
});
