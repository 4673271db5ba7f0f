import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openApiDocument } from "../functions/shared/openapi.js";
import { ROOT } from "./lib/moto.js";

/** `npm run openapi`: writes docs/openapi.json from the zod schemas (a unit test fails when stale). */
export const OPENAPI_PATH = join(ROOT, "docs/openapi.json");
export const renderOpenApi = () => `${JSON.stringify(openApiDocument(), null, 2)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(OPENAPI_PATH, renderOpenApi());
  console.log(`wrote ${OPENAPI_PATH}`);
}
