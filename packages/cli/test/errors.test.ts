/** The error contract for errors that escape a command: codes, files, next steps, no stack traces. */
import { describe, expect, it } from "vitest";
import { describeError } from "../src/util/errors.js";
import { fileError } from "../src/util/ioErrors.js";

describe("describeError", () => {
  it("a bug is INTERNAL, exit 2, with no stack trace in the message", () => {
    const e = new TypeError("Cannot read properties of undefined (reading 'x')");
    const d = describeError(e);
    expect(d.code).toBe("INTERNAL");
    expect(d.exitCode).toBe(2);
    expect(d.message).toContain("Cannot read properties");
    expect(d.message).toContain("DMSNAP_DEBUG=1");
    expect(d.message).not.toMatch(/\n\s+at /);
  });

  it.each(["ENOSPC", "EFBIG", "EACCES", "ELOOP", "EROFS", "EIO"])("a raw %s system error names the file and a next step", (errno) => {
    const e = Object.assign(new Error(`${errno}: failed, write`), { code: errno, syscall: "write", path: "/srv/snap.cow" });
    const d = describeError(e);
    expect(d.code).toBe(`IO_${errno}`);
    expect(d.exitCode).toBe(2);
    expect(d.message).toContain("/srv/snap.cow");
    expect(d.message).toMatch(/; \w/); // "...; <what to do>"
  });

  it("a store I/O failure keeps the errno in the code", () => {
    const cause = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write" });
    const e = Object.assign(new Error("writing 4096 bytes at offset 0 of /srv/snap.cow failed"), { code: "IO_ERROR", exitCode: 2, cause });
    const d = describeError(e);
    expect(d.code).toBe("IO_ENOSPC");
    expect(d.message).toContain("/srv/snap.cow");
    expect(d.message).toContain("free some space");
  });

  it("fileError names the file, the operation and the next step", () => {
    const e = Object.assign(new Error("EACCES: permission denied, open 'x'"), { code: "EACCES" });
    const c = fileError(e, "/srv/x.cow", "open --cow");
    expect(c.code).toBe("IO_EACCES");
    expect(c.message).toMatch(/^cannot open --cow \/srv\/x\.cow: .*; check its permissions/);
  });
});
