/** The manual page (roff) for docs/cli.md's Markdown, with `version` in its footer. */
export function toRoff(markdown: string, version: string): string;
