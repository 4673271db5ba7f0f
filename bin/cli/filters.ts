import { type Command, Option } from "commander";
import { CliError, EXIT } from "./exit.js";

/** The filter flags shared by `events`, `tail` and `export`: GET /v1/events' filters (schemas/query.ts). */
export interface FilterFlags {
  type?: string;
  category?: string;
  actor?: string;
  node?: string;
  since?: string;
  until?: string;
  outcome?: "success" | "failure";
  ip?: string;
}

/** The API's filter names (eventFiltersSchema). */
export type ApiFilters = Partial<
  Record<"type" | "actor" | "node" | "since" | "until" | "outcome" | "sourceIp", string>
>;

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A time flag as the API takes it (ISO 8601 UTC, ms): a timestamp with an offset (a time without one
 * is refused, as the API refuses it), a UTC day `2026-03-09` (its midnight), `now`, or a duration
 * ago: `90s`, `15m`, `2h`, `7d`, `1w`.
 */
export function parseTime(value: string, now: Date, flag: string): string {
  const v = value.trim();
  const ago = /^(\d+)\s*([smhdw])$/i.exec(v);
  let ms: number;
  if (v.toLowerCase() === "now") ms = now.getTime();
  else if (ago) ms = now.getTime() - Number(ago[1]) * (UNIT_MS[(ago[2] as string).toLowerCase()] as number);
  else if (/^\d{4}-\d{2}-\d{2}$/.test(v)) ms = Date.parse(`${v}T00:00:00Z`);
  else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(v))
    ms = Date.parse(v);
  else ms = Number.NaN;
  if (
    Number.isNaN(ms) ||
    ms < Date.parse("0000-01-01T00:00:00Z") ||
    ms > Date.parse("9999-12-31T23:59:59.999Z")
  )
    throw new CliError(
      `${flag} ${JSON.stringify(value)}: give a time with an offset (2026-03-09T09:44:19Z), a UTC day (2026-03-09) or a duration ago (15m, 2h, 7d)`,
      EXIT.usage,
    );
  return new Date(ms).toISOString();
}

/** The API query for the filter flags; `--category pcap` is `type=pcap.*`. */
export function apiFilters(flags: FilterFlags, now: Date): ApiFilters {
  if (flags.type && flags.category)
    throw new CliError("--type and --category both filter the type: give one", EXIT.usage);
  const category = flags.category?.replace(/\.\*$/, "");
  const out: ApiFilters = {
    type: flags.type ?? (category ? `${category}.*` : undefined),
    actor: flags.actor,
    node: flags.node,
    since: flags.since === undefined ? undefined : parseTime(flags.since, now, "--since"),
    until: flags.until === undefined ? undefined : parseTime(flags.until, now, "--until"),
    outcome: flags.outcome,
    sourceIp: flags.ip,
  };
  if (out.since && out.until && out.since >= out.until)
    throw new CliError(`--until (${out.until}) must be later than --since (${out.since})`, EXIT.usage);
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as ApiFilters;
}

/** Adds the filter flags to a command. `since` is left out for `tail`, which sets it itself. */
export function addFilterOptions(cmd: Command, options: { since?: boolean; until?: boolean } = {}): Command {
  cmd
    .option("-t, --type <type>", "event type, exact (pcap.download) or a category (pcap.*)")
    .option("-c, --category <category>", "event category: the same as --type <category>.*")
    .option("-a, --actor <id>", "actor id (actor.id)")
    .option("-n, --node <id>", "node id (node.id)")
    .addOption(new Option("-o, --outcome <outcome>", "outcome").choices(["success", "failure"]))
    .option("--ip <address>", "source IP (the API's sourceIp)");
  if (options.since !== false)
    cmd.option(
      "-s, --since <time>",
      "recorded at or after: ISO 8601 with offset, a UTC day, or 15m/2h/7d ago",
    );
  if (options.until !== false) cmd.option("-u, --until <time>", "recorded before (same forms as --since)");
  return cmd;
}
