import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, EXIT } from "./exit.js";

/** The project root (bin/cli/ → ../../): where `npm start` writes `.local/credentials.json`. */
export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export const DEFAULT_BASE_URL = "http://127.0.0.1:3000";

/** The connection flags every command takes. */
export interface ConnectionFlags {
  baseUrl?: string;
  key?: string;
  workspace?: string;
  credentials?: string;
}

export interface Connection {
  baseUrl: string;
  key: string;
  /** Where the key came from, for error messages (never the key itself). */
  keySource: string;
}

/** The part of `.local/credentials.json` (scripts/start.ts) the CLI reads. */
interface CredentialsFile {
  baseUrl?: string;
  workspaces: { id: string; keys: Record<string, string> }[];
}

function parseCredentials(text: string, file: string): CredentialsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not JSON`, EXIT.usage);
  }
  const c = raw as Partial<CredentialsFile>;
  const ok =
    Array.isArray(c.workspaces) &&
    c.workspaces.every((w) => typeof w?.id === "string" && typeof w.keys === "object" && w.keys !== null) &&
    (c.baseUrl === undefined || typeof c.baseUrl === "string");
  if (!ok) throw new CliError(`${file} does not look like npm start's credentials file`, EXIT.usage);
  return c as CredentialsFile;
}

/** `--credentials`, else AUDIT_LOG_CREDENTIALS, else npm start's CREDENTIALS_FILE (relative to the project), else its default. */
export function credentialsPath(
  flags: ConnectionFlags,
  env: Record<string, string | undefined>,
  cwd: string,
): string {
  if (flags.credentials) return resolve(cwd, flags.credentials);
  if (env.AUDIT_LOG_CREDENTIALS) return resolve(cwd, env.AUDIT_LOG_CREDENTIALS);
  const file = env.CREDENTIALS_FILE ?? ".local/credentials.json";
  return isAbsolute(file) ? file : join(PROJECT_ROOT, file);
}

/**
 * The API and the key to use. The key: `--key`, else AUDIT_LOG_KEY, else the `reader` key of
 * `--workspace` (default: the first) in the local runtime's credentials file. The base URL:
 * `--base-url`, else AUDIT_LOG_URL, else the credentials file's when the key came from it (npm start
 * may run on another PORT), else http://127.0.0.1:3000.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: Record<string, string | undefined>,
  cwd: string,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): Connection {
  const explicitUrl = flags.baseUrl ?? env.AUDIT_LOG_URL;
  const explicitKey = flags.key ?? env.AUDIT_LOG_KEY;
  let baseUrl = explicitUrl;
  let key: string;
  let keySource: string;
  if (explicitKey) {
    if (flags.workspace)
      throw new CliError(
        "--workspace picks a key from the credentials file: drop it, or drop --key",
        EXIT.usage,
      );
    key = explicitKey.trim();
    keySource = flags.key ? "--key" : "AUDIT_LOG_KEY";
  } else {
    const file = credentialsPath(flags, env, cwd);
    let text: string;
    try {
      text = readFile(file);
    } catch {
      throw new CliError(
        `no API key: pass --key or set AUDIT_LOG_KEY (or run npm start, which writes ${file})`,
        EXIT.auth,
      );
    }
    const creds = parseCredentials(text, file);
    const ws = flags.workspace ? creds.workspaces.find((w) => w.id === flags.workspace) : creds.workspaces[0];
    if (!ws) {
      const known = creds.workspaces.map((w) => w.id).join(", ") || "none";
      throw new CliError(
        flags.workspace
          ? `no workspace ${JSON.stringify(flags.workspace)} in ${file} (it has: ${known})`
          : `${file} lists no workspace`,
        EXIT.usage,
      );
    }
    const reader = ws.keys.reader;
    if (typeof reader !== "string" || !reader)
      throw new CliError(`workspace ${ws.id} in ${file} has no reader key`, EXIT.usage);
    key = reader;
    keySource = `the reader key of workspace ${ws.id} in ${file}`;
    baseUrl ??= creds.baseUrl;
  }
  baseUrl ??= DEFAULT_BASE_URL;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new CliError(`--base-url ${JSON.stringify(baseUrl)} is not a URL`, EXIT.usage);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CliError(`--base-url must be http or https, not ${url.protocol}`, EXIT.usage);
  return { baseUrl: url.href.replace(/\/+$/, ""), key, keySource };
}
