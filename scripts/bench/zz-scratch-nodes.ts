import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createNet, createNode } from '../../test/support/netns.ts';
import { clientKey, startSshd } from '../../test/support/sshd.ts';
const n = Number(process.argv[2] ?? 2);
const work = mkdtempSync(path.join(tmpdir(), 'kwscratch-'));
const net = createNet('10.247.124');
const nodes = [];
let known = '';
const key = clientKey(work);
for (let i = 1; i <= n; i++) { const node = createNode(net, i, i % 2 ? '1.6' : '2.2'); nodes.push(node); known += startSshd(node, key).knownHostsLine; node.startContainerd(); }
writeFileSync(path.join(work, 'kh'), known);
writeFileSync('/tmp/kwscratch/env', `KEY=${key.privateKey}\nKH=${work}/kh\nNODES=${nodes.map((x) => 'root@' + x.ip).join(',')}\n`);
console.log('ready');
process.on('SIGTERM', () => { for (const x of nodes) x.destroy(); net.cleanup(); process.exit(0); });
setInterval(() => {}, 1000);
