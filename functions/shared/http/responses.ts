import * as z from "zod";
import { problemSchema } from "../schemas/problem.js";

/**
 * The responses the route manifest's OpenAPI operations share (functions/shared/routes.ts): the
 * problem documents every authenticated route may answer, as the problemJson middleware makes them.
 */

export const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

/** A batch's problem also says what became of each event it could settle. */
const batchProblemSchema = problemSchema
  .extend({
    results: z
      .array(z.object({ id: z.string(), status: z.enum(["created", "duplicate", "conflict"]) }))
      .optional()
      .meta({ description: "Batches: each event settled before the problem, and how." }),
  })
  .meta({ id: "BatchProblem" });
export const batchProblemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: batchProblemSchema } },
});

export const retryAfter = z.object({
  "Retry-After": z.string().meta({ description: "Seconds to wait before retrying." }),
});

/** Every operation that takes a body may refuse it as a whole before reading it. */
export const bodyErrors = {
  "413": problemResponse("The body is larger than the limit."),
  "415": problemResponse("The body is not `application/json`."),
};

export const common = {
  "431": problemResponse("The request's headers are larger than the gateway accepts."),
  "400": problemResponse("Validation failed; `errors[]` names each problem."),
  "401": problemResponse("Missing or unknown API key."),
  "403": problemResponse("The key lacks the route's scope (the denial is logged)."),
  "429": {
    ...problemResponse(
      "Too many failed authentications from this address in the current minute (refused on every route, even with a valid key, until the minute ends), or the workspace is over its request rate. A batch refused part-way lists in `results` what was stored before.",
    ),
    headers: retryAfter,
  },
  "503": {
    ...problemResponse(
      "Storage unavailable: the outcome is unknown (most often nothing was stored). Retry the same request after Retry-After; ids make that safe.",
    ),
    headers: retryAfter,
  },
};
