/**
 * A device that fails chosen operations, for the I/O-error tests. Every
 * operation is numbered; `failWhen` sees its kind, range, flags and number,
 * and a true answer makes it fail with EIO without touching the inner device.
 */
import type { BlockDevice, WriteFlags } from "./device.js";

export type FaultOpKind = "read" | "write" | "flush";

export interface FaultOp {
  kind: FaultOpKind;
  offset: number;
  length: number;
  flags: WriteFlags;
  /** Operations of any kind before this one. */
  index: number;
}

export class InjectedIoError extends Error {
  override readonly name = "InjectedIoError";
  readonly code = "EIO";
  constructor(readonly op: FaultOp) {
    super(`injected EIO on ${op.kind} #${op.index} (${op.length} bytes at ${op.offset})`);
  }
}

export class FaultDevice implements BlockDevice {
  ops = 0;
  failed: FaultOp[] = [];
  constructor(
    readonly inner: BlockDevice,
    public failWhen: (op: FaultOp) => boolean = () => false,
  ) {}

  get size(): number {
    return this.inner.size;
  }
  get logicalBlockSize(): number {
    return this.inner.logicalBlockSize;
  }

  private check(kind: FaultOpKind, offset: number, length: number, flags: WriteFlags): void {
    const op: FaultOp = { kind, offset, length, flags, index: this.ops++ };
    if (this.failWhen(op)) {
      this.failed.push(op);
      throw new InjectedIoError(op);
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.check("read", offset, length, {});
    return this.inner.read(offset, length);
  }

  async write(offset: number, data: Uint8Array, flags: WriteFlags = {}): Promise<void> {
    this.check("write", offset, data.length, flags);
    return this.inner.write(offset, data, flags);
  }

  async flush(): Promise<void> {
    this.check("flush", 0, 0, {});
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
