import type { ChildProcess } from "node:child_process";

/**
 * Waits until a freshly spawned engine answers `ready()` (polled every `everyMs`), failing at once
 * if it cannot start or exits, and killing it after `timeoutMs`. Returns how to stop it: SIGTERM,
 * then SIGKILL after 3 s.
 */
export async function serveChild(
  child: ChildProcess,
  options: {
    name: string;
    endpoint: string;
    ready: () => Promise<boolean>;
    timeoutMs: number;
    everyMs: number;
  },
): Promise<() => Promise<void>> {
  let spawnError: Error | undefined;
  child.once("error", (err) => {
    spawnError = err;
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`${options.name} could not start: ${spawnError.message}`);
    if (child.exitCode !== null) throw new Error(`${options.name} exited with code ${child.exitCode}`);
    try {
      if (await options.ready()) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(
        `${options.name} did not answer on ${options.endpoint} within ${options.timeoutMs / 1000} s`,
      );
    }
    await new Promise((r) => setTimeout(r, options.everyMs));
  }
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    }
  };
}
