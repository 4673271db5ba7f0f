import { json } from "#shared/http/request.js";
import { publicRoute } from "#shared/http/route.js";
import { openApiDocument } from "#shared/openapi.js";

const document = openApiDocument();

export const handler = publicRoute(async () =>
  json(200, document, { "cache-control": "public, max-age=300" }),
);
