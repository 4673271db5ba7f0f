import { publicRoute } from "#shared/http/route.js";
import { servePage } from "./page.js";

/** GET /dashboard/audit and its script and style: public; the browser authenticates to the API. */
export const handler = publicRoute(servePage);
