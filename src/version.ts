/** This copy's package version (kept equal to package.json's by test/two-copies.test.ts). */
export const VERSION = '0.1.0';
