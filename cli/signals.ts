/**
 * OS signals are handled once, here, and passed down as an AbortSignal. The
 * first SIGINT/SIGTERM asks for a drain; a second one exits at once.
 */
export function shutdownSignal(): AbortSignal {
  const ctrl = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      process.stderr.write(`\n${sig}: draining (send again to stop at once)\n`);
      ctrl.abort(new Error(sig));
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return ctrl.signal;
}

export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
