import type { z } from "zod";
import { type FieldError, ValidationError } from "../errors.js";

function pointer(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

/** zod issues → `errors[]` of `{path, message}`, one per problem, with JSON Pointer paths. */
export function toFieldErrors(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): FieldError[] {
  return issues.flatMap((issue): FieldError[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: pointer([...path, key]),
        message:
          key === "workspaceId"
            ? "is not accepted: the workspace always comes from the API key"
            : "is not a known field",
      }));
    }
    return [{ path: pointer(path), message: issue.message }];
  });
}

export function validationError(error: z.ZodError, prefix: readonly PropertyKey[] = []): ValidationError {
  return new ValidationError(toFieldErrors(error.issues, prefix));
}
