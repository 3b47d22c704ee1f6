#!/usr/bin/env node
// Entrypoint of the node-installer DaemonSet pod (the installer image runs
// this file): the process itself is lib/kube/installer-main.ts.
import { nodeInstallerProcess } from '../lib/kube/installer-main.js';

nodeInstallerProcess(process.argv.slice(2), process.env);
