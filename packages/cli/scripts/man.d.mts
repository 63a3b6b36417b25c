import type { Command } from "commander";
/** Every manual page (file name -> roff) of the program: dmsnap.1 and dmsnap-<command>.1. */
export function manPages(program: Command, version: string): Map<string, string>;
