import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CLIENT_EVENT_TYPES } from "../../functions/shared/schemas/catalogue.js";
import { OPENAPI_PATH, renderOpenApi } from "../../scripts/openapi.js";

describe("OpenAPI document", () => {
  it("docs/openapi.json matches the zod schemas (run `npm run openapi` when this fails)", () => {
    expect(readFileSync(OPENAPI_PATH, "utf8")).toBe(renderOpenApi());
  });

  it("documents every client-postable catalogue type as a variant of EventInput", () => {
    const doc = JSON.parse(renderOpenApi()) as {
      components: { schemas: Record<string, { oneOf?: { $ref: string }[] }> };
    };
    const variants = doc.components.schemas.EventInput?.oneOf?.map((v) => v.$ref) ?? [];
    expect(variants).toHaveLength(CLIENT_EVENT_TYPES.length);
    expect(variants).toContain("#/components/schemas/EventInput_pcap_download");
  });
});
