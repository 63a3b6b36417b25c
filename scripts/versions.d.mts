export interface PackageEntry {
  dir: string;
  json: { name: string; version?: string; [field: string]: unknown };
}
export function workspacePackages(root: string): Array<{ dir: string; file: string }>;
export function versionProblems(root: { version?: unknown }, packages: PackageEntry[]): string[];
