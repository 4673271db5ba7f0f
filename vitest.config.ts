import { defineConfig } from "vitest/config";

/**
 * Three tiers: unit (pure logic, no network), integration (handlers over real HTTP against a moto
 * server that global setup starts), infra (assertions on the synthesized CDK template); and the
 * Audit Log page driven in Chromium against the same kind of engines (browser).
 */
export default defineConfig({
  test: {
    env: {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT",
      // EMF lines on stdout would bury the test output; test/integration/metrics.test.ts turns them on.
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? "true",
    },
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/unit/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          setupFiles: ["test/integration/setup-env.ts"],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          // The Audit Log page in Debian's Chromium (playwright-core), against its own engines.
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts", "test/browser/global-setup.ts"],
          setupFiles: ["test/integration/setup-env.ts"],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          name: "infra",
          include: ["test/infra/**/*.test.ts"],
          // Files share one worker's module cache, so each stage is synthesized once, not per file.
          isolate: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
