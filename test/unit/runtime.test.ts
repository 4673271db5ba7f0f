import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

describe("the Node.js the project runs on", () => {
  it("is the major version Lambda runs (nodejs22.x), brought by npm ci, not the machine's", () => {
    // Prepare: the runtime the functions are deployed on, from the construct that sets it.
    const construct = readFileSync(join(ROOT, "lib/service-function.ts"), "utf8");
    const lambdaMajor = /Runtime\.NODEJS_(\d+)_X/.exec(construct)?.[1];

    // Assess
    expect(lambdaMajor).toBe("22");
    expect(process.versions.node.split(".")[0]).toBe(lambdaMajor);
    // On Linux the binary is the pinned node-linux-<arch> package's (package.json optionalDependencies).
    if (process.platform === "linux") expect(process.execPath).toContain(join("node_modules", "node-linux-"));
  });

  it("is what package.json's engines asks for", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`${process.versions.node.split(".")[0]}.x`);
  });
});
