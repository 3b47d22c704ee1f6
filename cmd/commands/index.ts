// Every command, in the order `kubewasm --help` lists them.
import type { Command } from '../command.js';
import { nodeInstall } from './node-install.js';
import { nodeUninstall } from './node-uninstall.js';

export const COMMANDS: Command[] = [nodeInstall, nodeUninstall];
