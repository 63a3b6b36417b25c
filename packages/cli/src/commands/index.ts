/**
 * Every dmsnap command, in the order `dmsnap --help` lists them. Each module
 * exports `register(program)`; adding a command is one line here.
 */
import type { Command } from "commander";
import { register as dump } from "./dump.js";
import { register as check } from "./check.js";
import { register as usage } from "./usage.js";
import { register as restore } from "./restore.js";
import { register as repair } from "./repair.js";
import { register as map } from "./map.js";
import { register as create } from "./create.js";
import { register as write } from "./write.js";
import { register as exportCmd } from "./export.js";
import { register as merge } from "./merge.js";

export const commands: Array<(program: Command) => void> = [dump, check, usage, restore, repair, map, create, write, exportCmd, merge];
