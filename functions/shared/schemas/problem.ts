import * as z from "zod";

/** RFC 9457 problem details, as every error response carries them. */
export const problemSchema = z
  .object({
    type: z.string().meta({ description: "A URI reference naming the kind of problem." }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z
      .array(
        z.object({
          path: z.string().meta({ description: "JSON Pointer into the body or query." }),
          message: z.string(),
        }),
      )
      .optional(),
  })
  .meta({ id: "Problem" });
