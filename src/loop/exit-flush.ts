/**
 * Runs `flush` when the process exits (process.exit(), a signal handler that
 * exits, the event loop running dry), ahead of other exit listeners so the
 * sampler is off before they run. Returns the function that uninstalls it.
 * The flush must be synchronous: after 'exit' no later turn of the event loop comes.
 */
export function installExitFlush(flush: () => void): () => void {
  let installed = true;
  const onExit = (): void => {
    if (installed) flush();
  };
  process.prependListener('exit', onExit);
  return () => {
    if (!installed) return;
    installed = false;
    process.removeListener('exit', onExit);
  };
}
