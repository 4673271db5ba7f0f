#!/usr/bin/env node
// The `audit-log` command (package.json "bin"): runs the TypeScript CLI in bin/cli/ through tsx.
import { register } from "tsx/esm/api";

register();
await import("./cli/index.ts");
