// The smoke-test images `kubewasm verify` runs, built without a registry or a
// compiler: a WASI module that prints one known line (for the Wasm
// RuntimeClasses) and, for `verify --bench`, a static Linux program (x86-64
// and arm64) doing the same work (print one line, exit 0) for the runc side.
import type { ImageSpec } from '../oci/image-archive.js';
import type { WasmImage } from '../oci/wasm-image.js';
import { ARCHES, type Arch } from '../shims/catalog.js';

export const SMOKE_IMAGE = 'kubewasm.io/smoke:hello';
export const SMOKE_LINE = 'hello from kubewasm wasm';
export const NATIVE_IMAGE = 'kubewasm.io/smoke:native';
/** The same module as users ship Wasm: platform wasi/wasm (see smokeWasiImage). */
export const SMOKE_WASI_IMAGE = 'kubewasm.io/smoke:hello-wasi';
export const NATIVE_LINE = 'hello from kubewasm native';

/**
 * test/fixtures/wasm/hello.wat compiled by wat2wasm 1.0.32 (a unit test
 * compiles the fixture again and compares): imports WASI preview1 fd_write,
 * writes SMOKE_LINE + "\n" to stdout from _start. The lab's smoke image holds
 * the same bytes, so both builds give the same image digest.
 */
const SMOKE_WASM_HEX =
  '0061736d01000000010c0260047f7f7f7f017f60000002230116776173695f736e617073686f745f70726576696577310866645f77726974650000030201010503010001071302066d656d6f72790200065f737461727400010a0f010d00410141004101410810001a0b0b2c020041000b0810000000190000000041100b1968656c6c6f2066726f6d206b7562657761736d207761736d0a';

export function smokeWasm(): Buffer {
  return Buffer.from(SMOKE_WASM_HEX, 'hex');
}

/** The WASI smoke image: /hello.wasm as the entrypoint (what runwasi's shims run). Same spec as scripts/lab/images/archives.ts. */
export function smokeImageSpec(): ImageSpec {
  return { name: SMOKE_IMAGE, files: [{ path: '/hello.wasm', data: smokeWasm(), mode: 0o755 }], entrypoint: ['/hello.wasm'] };
}

/**
 * The smoke module as a Wasm OCI image the way users have them (docker buildx
 * --platform wasi/wasm, runwasi's oci-tar-builder): config os wasi,
 * architecture wasm, /hello.wasm in a tar layer as the entrypoint. The tar
 * layer is the form a node must unpack, so it proves the containerd >= 2.1
 * unpack setting too (lib/containerd/image-pull.ts). Registries serve it
 * under its manifest (`manifest`): containerd's CRI pulls pick the host's
 * platform from an index and find no wasi/wasm entry acceptable.
 * Imported when called: `kubewasm --help` loads no package (tar).
 */
export async function smokeWasiImage(): Promise<WasmImage> {
  const { buildWasmImage } = await import('../oci/wasm-image.js');
  return buildWasmImage({ name: SMOKE_WASI_IMAGE, module: smokeWasm(), file: 'hello.wasm', layers: 'tar', top: 'manifest' });
}

/**
 * A complete static ELF64 executable for `arch`, assembled here: write(1,
 * line, len); exit(0). 152-153 bytes of headers and code + the line; no libc,
 * no loader.
 */
export function nativeHelloElf(line = `${NATIVE_LINE}\n`, arch: Arch = 'amd64'): Buffer {
  const msg = Buffer.from(line, 'utf8');
  if (msg.length > (arch === 'arm64' ? 0xffff : 0x7fffffff)) throw new Error('line too long');
  const base = 0x400000n;
  const headerSize = 64 + 56;
  const code = arch === 'arm64' ? aarch64Code(msg.length) : x86Code(msg.length);
  const total = headerSize + code.length + msg.length;
  const ehdr = Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    u16(2), // ET_EXEC
    u16(arch === 'arm64' ? 0xb7 : 0x3e), // EM_AARCH64, EM_X86_64
    u32(1),
    u64(base + BigInt(headerSize)), // entry: the code right after the headers
    u64(64n), // program headers right after this header
    u64(0n), // no section headers
    u32(0),
    u16(64),
    u16(56),
    u16(1),
    u16(64),
    u16(0),
    u16(0),
  ]);
  // 64 KiB alignment: arm64 kernels may use 64 KiB pages (0x400000 is aligned either way)
  const phdr = Buffer.concat([u32(1) /* PT_LOAD */, u32(5) /* R+X */, u64(0n), u64(base), u64(base), u64(BigInt(total)), u64(BigInt(total)), u64(arch === 'arm64' ? 0x10000n : 0x1000n)]);
  return Buffer.concat([ehdr, phdr, code, msg]);
}

/** mov eax,1 | mov edi,1 | lea rsi,[rip+16] | mov edx,len | syscall | mov eax,60 | xor edi,edi | syscall; the line follows. */
function x86Code(len: number): Buffer {
  return Buffer.concat([Buffer.from([0xb8, 1, 0, 0, 0, 0xbf, 1, 0, 0, 0, 0x48, 0x8d, 0x35, 16, 0, 0, 0, 0xba]), u32(len), Buffer.from([0x0f, 0x05, 0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05])]);
}

/** mov x0,#1 | adr x1,line (28 bytes on) | mov x2,#len | mov x8,#64 (write) | svc 0 | mov x0,#0 | mov x8,#93 (exit) | svc 0; the line follows. */
function aarch64Code(len: number): Buffer {
  const movz = (reg: number, imm: number) => (0xd2800000 | (imm << 5) | reg) >>> 0;
  return Buffer.concat([movz(0, 1), 0x10000000 | (7 << 5) | 1, movz(2, len), movz(8, 64), 0xd4000001, movz(0, 0), movz(8, 93), 0xd4000001].map(u32));
}

/**
 * The runc side of `verify --bench`: /hello prints NATIVE_LINE. One image per
 * platform (linux/amd64, linux/arm64), archived as one index: each node takes its own.
 */
export function nativeImageSpec(): ImageSpec[] {
  return ARCHES.map((arch) => ({ name: NATIVE_IMAGE, platform: { os: 'linux', architecture: arch }, files: [{ path: '/hello', data: nativeHelloElf(undefined, arch), mode: 0o755 }], entrypoint: ['/hello'] }));
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}
