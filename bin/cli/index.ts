import { realSleep } from "./io.js";
import { run } from "./main.js";

// The real process: Ctrl-C aborts (tail ends cleanly, others exit 130); a second Ctrl-C exits at once.
const interrupt = new AbortController();
process.on("SIGINT", () => {
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort();
});
// `audit-log events | head`: the reader went away, which is no error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  fetch: globalThis.fetch,
  now: () => new Date(),
  sleep: realSleep,
  signal: interrupt.signal,
});
