import { json } from "#shared/http/request.js";
import { publicRoute } from "#shared/http/route.js";

/** Liveness only: it touches no dependency, so it needs no key and no config. */
export const handler = publicRoute(async () => json(200, { status: "ok" }));
