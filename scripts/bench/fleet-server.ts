// The fleet bench's release server, run inside the "internet" network
// namespace (fleet.ts starts it with `ip netns exec`): the loopback GitHub
// stand-in serving the real shim release archive, its API on one address and
// its objects host on another, every answer delayed by the first-byte delay.
// Prints one JSON line {apiUrl, downloadHost, asset} and serves until its
// stdin closes (the bench ending, however it ends).
// Usage: node --import ../ts-resolve.mjs fleet-server.ts ARCHIVE API_IP DOWNLOAD_IP FIRST_BYTE_MS TAG
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { start } from '../lab/support/github-server.ts';

const [archive, apiHost, downloadHost, delay, tag] = process.argv.slice(2);
if (!archive || !apiHost || !downloadHost || delay === undefined || !tag) {
  process.stderr.write('usage: fleet-server.ts ARCHIVE API_IP DOWNLOAD_IP FIRST_BYTE_MS TAG\n');
  process.exit(2);
}
const name = path.basename(archive);
const server = await start({
  releases: [{ repo: 'containerd/runwasi', tag, assets: [{ name, data: readFileSync(archive) }] }],
  apiHost,
  downloadHost,
  firstByteDelayMs: Number(delay),
  rateLimit: 1_000_000,
});
process.stdout.write(`${JSON.stringify({ apiUrl: server.apiUrl, downloadHost: server.downloadHost, asset: server.browserDownloadUrl('containerd/runwasi', tag, name) })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
process.stdin.on('error', () => process.exit(0));
