#!/usr/bin/env bash
# Outside use (issue #14): the packages as an npm user gets them. Packs every
# package, installs the tarballs into an empty project outside the clone, and
# runs what our three audiences run: the CLI, the conformance runner with the
# repository's Python reader as a third-party reader, dmsnap-tlc on the
# example spec, and a browser bundle of the codec + store core. Each check has
# a failing control where one is cheap. Needs `pnpm build` (pnpm verify does
# it), npm, python3, Java (TLC is in the cache after pnpm spec).
# Counts go to .cache/outside-use.json for scripts/summary.mjs.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$SECONDS
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ok    $1"; }
bad() { failed=$((failed + 1)); echo "  FAIL  $1"; [ -n "${2:-}" ] && sed 's/^/        /' "$2" | tail -15; return 0; }
# check NAME CMD...: CMD must exit 0. refuse NAME CODE CMD...: CMD must exit CODE (a control).
check() { local n="$1"; shift; if "$@" >"$work/out" 2>&1; then ok "$n"; else bad "$n (exit $?)" "$work/out"; fi; }
refuse() {
  local n="$1" want="$2"; shift 2
  "$@" >"$work/out" 2>&1; local got=$?
  if [ "$got" = "$want" ]; then ok "$n"; else bad "$n (exit $got, expected $want)" "$work/out"; fi
}
finish() {
  mkdir -p "$repo/.cache"
  printf '{"passed": %d, "failed": %d, "seconds": %d}\n' "$passed" "$failed" "$((SECONDS - started))" >"$repo/.cache/outside-use.json"
  echo "outside-use: $passed passed, $failed failed ($((SECONDS - started)) s)"
  [ "$failed" -eq 0 ]
}

echo "== outside use: pack every package, install the tarballs into $work/project"
mkdir -p "$work/tgz" "$work/project"
# The documented path (README, "Use outside this repository"): scripts/pack.mjs makes the tarballs.
node "$repo/scripts/pack.mjs" --out "$work/tgz" >/dev/null || bad "node scripts/pack.mjs (pnpm release:pack)"
for t in "$work"/tgz/*.tgz; do echo "  $(basename "$t"): $(( $(stat -c %s "$t") / 1024 )) KiB packed"; done
cd "$work/project"
npm init -y >/dev/null
# Only the tarballs: a bundled-and-listed @dmsnap dependency would be looked up on the registry (E404).
check "npm install of the 5 tarballs into an empty project" npm install --no-audit --no-fund --loglevel=error "$work"/tgz/*.tgz
[ -x node_modules/.bin/dmsnap ] || { bad "installed: no dmsnap bin"; finish; exit 1; }
bin=node_modules/.bin

echo "== the CLI"
want="$(node -p 'require(process.argv[1]).version' "$repo/package.json")"
for b in dmsnap dmsnap-conformance dmsnap-tlc; do
  check "$b --version prints $want (the root package.json, scripts/versions.mjs)" bash -c "[ \"\$($bin/$b --version)\" = '$want' ]"
  # One style for the three bins: a usage error is '<bin>: UNKNOWN_OPTION: ...; run '<bin> --help' for usage', exit 2.
  refuse "$b --bogus: one usage-error line in the common style (exit 2)" 2 bash -c "$bin/$b --bogus 2>&1 >/dev/null | grep -qx \"$b: UNKNOWN_OPTION: unknown option '--bogus'; run '$b --help' for usage\" && exit 2"
done
echo "== npm install -g of the CLI tarball installs the man pages"
npm install -g --prefix "$work/global" --no-audit --no-fund --loglevel=error "$work"/tgz/dmsnap-cli-*.tgz >"$work/out" 2>&1 || bad "npm install -g --prefix of the CLI tarball" "$work/out"
man1="$work/global/share/man/man1"
pages=$(ls "$man1" 2>/dev/null | grep -c '^dmsnap.*\.1$')
check "npm install -g links dmsnap.1 and one dmsnap-<command>.1 per command (11 pages; found $pages)" bash -c "[ '$pages' = 11 ] && [ -f '$man1/dmsnap.1' ] && [ -f '$man1/dmsnap-dump.1' ]"
check "every installed page: groff -man -ww -z prints no warning" bash -c "for f in '$man1'/*.1; do [ -z \"\$(groff -man -ww -z \"\$f\" 2>&1)\" ] || { echo \"\$f\"; groff -man -ww -z \"\$f\"; exit 1; }; done"
check "the installed dmsnap binary runs" "$work/global/bin/dmsnap" --version
case_dir=node_modules/@dmsnap/conformance/cases/kernel-snap-writes-1s
gunzip -c "$case_dir/cow.img.gz" >"$work/cow.img"
check "dmsnap dump --json of kernel-snap-writes-1s agrees with the kernel-judged case.json" node -e '
  const [out, kase] = [JSON.parse(require("fs").readFileSync(0, "utf8")), require(process.argv[1])];
  const e = kase.expected;
  for (const k of ["state", "chunkSize", "exceptionsPerArea", "exceptions", "nextFree", "usage", "currentArea", "status"])
    if (JSON.stringify(out[k]) !== JSON.stringify(e[k])) { console.error(k, JSON.stringify(out[k]), "!=", JSON.stringify(e[k])); process.exit(1); }
' "$PWD/$case_dir/case.json" < <($bin/dmsnap dump --json --chunk-size 1 "$work/cow.img")
refuse "dmsnap dump --json of a 3-byte file is refused (exit 1)" 1 bash -c "printf abc > '$work/tiny.img' && $bin/dmsnap dump --json '$work/tiny.img'"

echo "== the conformance runner, the Python reader as a third-party --reader-command"
mkdir -p "$work/reader" && cp "$repo/conformance/readers/python/dmsnap_reader.py" "$work/reader/"
cases=$(ls -d node_modules/@dmsnap/conformance/cases/*/ | wc -l)
(cd "$work/reader" && env -u INIT_CWD "$work/project/$bin/dmsnap-conformance" --reader-command "python3 dmsnap_reader.py" --jobs 2) >"$work/conf.out" 2>&1
code=$?
tail -2 "$work/conf.out" | sed 's/^/        /'
if [ $code -eq 0 ] && node -e '
  const m = require(process.argv[1]); const c = m.counts ?? m;
  process.exit(c.passed === Number(process.argv[2]) && c.failed === 0 ? 0 : 1);
' "$work/reader/conformance-matrix.json" "$cases"; then ok "python reader: $cases/$cases shipped cases, matrix written in the caller's folder"; else bad "python reader (exit $code)" "$work/conf.out"; fi
check "the matrix says which installed runner made it, not the repository's script" bash -c "grep -q 'Generated by \`dmsnap-conformance\` $want' '$work/reader/conformance-matrix.md' && ! grep -Eq 'pnpm conformance|src/bin.ts' '$work/reader/conformance-matrix.md'"
refuse "control: a reader that always says BAD_MAGIC fails the run (exit 1)" 1 "$bin/dmsnap-conformance" --no-write --case 'kernel-snap-writes-*' --reader-capabilities dump \
  --reader-command "node -e 'console.log(JSON.stringify({error:{code:\"BAD_MAGIC\",message:\"x\"}}));process.exit(1)'"
refuse "control: built-in readers refused outside the repository (exit 2)" 2 "$bin/dmsnap-conformance" --no-write --reader python

echo "== dmsnap-tlc on a user's copy of the example spec"
cp -r node_modules/@dmsnap/spec/examples/counter "$work/my-spec"
check "dmsnap-tlc: below-three passes (3 distinct), reaches-three violates BelowThree" bash -c "
  env -u INIT_CWD $bin/dmsnap-tlc --manifest ../my-spec/manifest.json --results ../tlc.json --workers 1 &&
  node -e 'const r = require(\"$work/tlc.json\"); const by = Object.fromEntries(r.configurations.map((c) => [c.name, c]));
    process.exit(r.passed === 2 && by[\"below-three\"].outcome === \"pass\" && by[\"reaches-three\"].found === \"BelowThree\" ? 0 : 1)'"
check "the example's \$schema resolves after the cp -r" test -f "$work/my-spec/$(node -p 'require(process.argv[1]).$schema' "$work/my-spec/manifest.json")"
cp -r "$work/my-spec" "$work/no-design"
node -e 'const f = process.argv[1]; const m = require(f); for (const c of m.configurations) delete c.design; require("fs").writeFileSync(f, JSON.stringify(m))' "$work/no-design/manifest.json"
check "dmsnap-tlc on a manifest without 'design' prints no 'undefined'" bash -c "env -u INIT_CWD $bin/dmsnap-tlc --manifest ../no-design/manifest.json --workers 1 below-three >'$work/nd.out' 2>&1 && grep -qx '== below-three' '$work/nd.out' && ! grep -q undefined '$work/nd.out'"
node -e 'const f = process.argv[1]; const m = require(f); m.configurations[0].distinct = 4; require("fs").writeFileSync(f, JSON.stringify(m))' "$work/my-spec/manifest.json"
refuse "control: a wrong pinned state count is a mismatch (exit 1)" 1 env -u INIT_CWD "$bin/dmsnap-tlc" --manifest ../my-spec/manifest.json --workers 1 below-three
node -e 'const f = process.argv[1]; const m = require(f); delete m.configurations[1].violated; require("fs").writeFileSync(f, JSON.stringify(m))' "$work/my-spec/manifest.json"
refuse "control: a must-fail configuration without 'violated' is BAD_MANIFEST (exit 2)" 2 env -u INIT_CWD "$bin/dmsnap-tlc" --manifest ../my-spec/manifest.json

echo "== library entry points"
check "Node: every exports entry loads (format, format/testing, store, store/node, store/testing, store/trace, conformance, spec, cli)" node --input-type=module -e '
  for (const m of ["@dmsnap/format", "@dmsnap/format/testing", "@dmsnap/store", "@dmsnap/store/node", "@dmsnap/store/testing", "@dmsnap/store/trace", "@dmsnap/conformance", "@dmsnap/spec", "@dmsnap/spec/schema", "@dmsnap/cli"])
    if (Object.keys(await import(m)).length === 0) throw new Error(`${m}: no exports`);
  const { createRequire } = await import("node:module");
  const require = createRequire(process.cwd() + "/");
  if (!require("@dmsnap/store").PersistentStore || !require("@dmsnap/format").decodeCow) throw new Error("CommonJS entries");'
check "every exports entry of every package loads under both import and require (each condition its package declares)" node --input-type=module -e '
  const { createRequire } = await import("node:module");
  const { readFileSync } = await import("node:fs");
  const require = createRequire(process.cwd() + "/");
  let n = 0;
  for (const name of ["@dmsnap/format", "@dmsnap/store", "@dmsnap/cli", "@dmsnap/conformance", "@dmsnap/spec"]) {
    const pkg = JSON.parse(readFileSync(`node_modules/${name}/package.json`, "utf8"));
    for (const key of Object.keys(pkg.exports)) {
      const spec = name + key.slice(1);
      if (key === "./package.json") continue;
      if (key.endsWith(".json")) { require(spec); n++; continue; }
      const m = await import(spec);
      if (Object.keys(m).length === 0) throw new Error(`import ${spec}: no exports`);
      // An ESM-only package answers require() too on Node >= 20.19 / 22.12 (require(esm)); a CJS build must load.
      const r = require(spec);
      if (Object.keys(r).length === 0) throw new Error(`require ${spec}: no exports`);
      n += 2;
    }
  }
  console.log(`${n} loads`);'
cat >"$work/project/types.mts" <<'EOF'
import { decodeCow, bytesReader, type CowImage } from "@dmsnap/format";
import { buildCow } from "@dmsnap/format/testing";
import { MemoryDevice, Snapshot } from "@dmsnap/store";
import { FileDevice } from "@dmsnap/store/node";
import { SimDevice } from "@dmsnap/store/testing";
import { runConformance } from "@dmsnap/conformance";
import { loadManifest, type Manifest } from "@dmsnap/spec";
import { VERSION } from "@dmsnap/cli";
const img: CowImage = decodeCow(bytesReader(new Uint8Array(4096)));
const m: Manifest = loadManifest("manifest.json");
const v: string = VERSION;
export const used = [img, buildCow, MemoryDevice, Snapshot, FileDevice, SimDevice, runConformance, m, v];
EOF
check "TypeScript (nodenext) finds the types of every package" "$repo/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext --skipLibCheck false --typeRoots "$repo/node_modules/@types" --types node types.mts
# The same bundle check scripts/package-report.mjs runs on the workspace.
check "browser bundle of format + store core, no Node built-ins (esbuild --platform=browser)" node "$repo/scripts/browser-bundle.mjs" "$work/project"
sed 's/^/        /' "$work/out"
refuse "control: @dmsnap/store/node does not bundle for a browser (exit 1)" 1 node "$repo/scripts/browser-bundle.mjs" "$work/project" --import @dmsnap/store/node

echo "== package report: entry points and sizes (scripts/package-report.mjs)"
check "every exports/bin/man file is in its package's pack; the core bundles for a browser" node "$repo/scripts/package-report.mjs" --check
sed 's/^/        /' "$work/out"

finish
