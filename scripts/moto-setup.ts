import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureMoto, ROOT } from "./lib/moto.js";

/** `npm run moto:setup` installs the venv; `-- --freeze` rewrites the transitive pins. */
ensureMoto();
if (process.argv.includes("--freeze")) {
  const frozen = execFileSync(join(ROOT, ".venv/bin/pip"), ["freeze", "--exclude-editable"]).toString();
  writeFileSync(
    join(ROOT, "scripts/moto-constraints.txt"),
    `# pip freeze of .venv; pins moto's dependencies.\n${frozen}`,
  );
  console.log("wrote scripts/moto-constraints.txt");
}
console.log("moto is ready in .venv");
