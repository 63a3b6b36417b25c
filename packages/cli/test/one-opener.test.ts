/**
 * The class, not the instance (issue #9): every command opens its files
 * through util/inputs.ts and creates its outputs through util/outputs.ts, so
 * the safety rules (file kinds, same file, locks, atomic outputs, signals)
 * cannot be skipped by one command. This fails when a command opens or
 * writes a file by itself (as map's writeFileSync and repair's openSync did).
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const COMMANDS = fileURLToPath(new URL("../src/commands/", import.meta.url));

/** Calls that open, create or write a file by path (reading an already-open descriptor is fine). */
const FORBIDDEN = [
  /\bopenSync\(/,
  /\bwriteFileSync\(/,
  /\bappendFileSync\(/,
  /\bcreateWriteStream\(/,
  /\bcreateReadStream\(/,
  /\btruncateSync\(/,
  /\brenameSync\(/,
  /\bFileDevice\.open\(/,
  /\b(fs|fsp|promises)\.(open|writeFile|rename|truncate)\(/,
  /\breadFileSync\((?!0\b|[\w.]+\.fd\b)/,
  // The store's path-taking entry points open files themselves: commands pass `opened`.
  /\b(createCow|exportSnapshot|applyWrite)\((?![\s\S]{0,600}opened:)/,
];

describe("one place opens inputs, one place creates outputs", () => {
  const files = readdirSync(COMMANDS).filter((f) => f.endsWith(".ts"));

  it("finds the commands", () => expect(files.length).toBeGreaterThanOrEqual(10));

  it.each(files)("%s opens and writes files only through util/inputs.ts and util/outputs.ts", (file) => {
    const text = readFileSync(join(COMMANDS, file), "utf8");
    const hits = FORBIDDEN.filter((re) => re.test(text)).map(String);
    expect(hits).toEqual([]);
  });
});
