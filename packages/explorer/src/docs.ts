/**
 * Links from each label to the section of docs/format.md that defines it.
 * The build renders that document to format.html with GitHub-style heading
 * ids (build/formatDoc.ts), so these anchors work both there and on GitHub.
 */
export const DOC = "format.html";

/** GitHub's heading slug: lower case, punctuation dropped, spaces to dashes. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

export const SECTION = {
  units: slug("Units"),
  header: slug("Chunk 0: the header"),
  perArea: slug("Exceptions per area"),
  layout: slug("Layout of the device"),
  entries: slug("Exception entries"),
  terminator: slug("The end of the list (terminator rule)"),
  activation: slug("Activation (reading a COW device)"),
  status: slug("Usage and status"),
  errors: slug("Error codes"),
  findings: slug("Checker findings"),
  allocation: slug("Allocation"),
} as const;

export function docLink(section: keyof typeof SECTION): string {
  return `${DOC}#${SECTION[section]}`;
}
