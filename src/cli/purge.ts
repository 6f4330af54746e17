/**
 * `purge --older-than-days N`: deletes old messages and their deliveries now, instead of waiting
 * for the retention (`RELAY_RETENTION_DAYS`), through the admin API (`client.ts`).
 *
 * @module
 */
import { REMOTE_HELP, REMOTE_OPTIONS, withClient } from "./client.ts";
import {
  type CliContext,
  type Command,
  COMMON_HELP,
  EXIT,
  parse,
  print,
  UsageError,
} from "./common.ts";

/** The command. */
export const purge: Command = {
  name: "purge",
  summary: "delete messages older than N days now",
  usage: "main.ts purge --older-than-days N",
  help: `Flags:
  --older-than-days N   messages received more than N days ago (a number, fractions allowed;
                        the relay purges after RELAY_RETENTION_DAYS by itself). Only
                        messages whose deliveries are all final (sent, failed for
                        good, unknown, deduplicated) are deleted; open work stays
${REMOTE_HELP}
${COMMON_HELP}`,
  async run(args: string[], cli: CliContext) {
    const { flags, positionals } = parse(args, {
      ...REMOTE_OPTIONS,
      "older-than-days": { type: "string" },
    });
    if (flags.help) return cli.help();
    if (positionals.length > 0) throw new UsageError("purge takes no arguments");
    const raw = flags["older-than-days"] as string | undefined;
    if (raw === undefined) throw new UsageError("purge needs --older-than-days N");
    const days = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !Number.isFinite(days)) {
      throw new UsageError(`--older-than-days: expected a number of days, got "${raw}"`);
    }
    const out: { purged: number } = await withClient(
      flags,
      "required",
      (c) => c.call("POST", "/messages/purge", { older_than_days: days }),
    );
    print(Boolean(flags.json), out, () => `purged ${out.purged} messages older than ${days} days`);
    return EXIT.ok;
  },
};
