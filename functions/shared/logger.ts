import { Logger } from "@aws-lambda-powertools/logger";

/** One structured logger per container. `POWERTOOLS_LOG_LEVEL` sets the level (tests: SILENT). */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "audit-log" });
