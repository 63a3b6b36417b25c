/**
 * Every dmsnap command, in the order `dmsnap --help` lists them. Each module
 * exports `register(program)`; adding a command is one line here.
 */
import type { Command } from "commander";
import { register as dump } from "./dump.js";

export const commands: Array<(program: Command) => void> = [dump];
