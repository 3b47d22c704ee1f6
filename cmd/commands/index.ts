// Every command, in the order `kubewasm --help` lists them.
import type { Command } from '../command.js';
import { bundle } from './bundle.js';
import { clusterCreate } from './cluster-create.js';
import { clusterDelete } from './cluster-delete.js';
import { imageBuild } from './image-build.js';
import { imagePush } from './image-push.js';
import { install } from './install.js';
import { label, unlabel } from './label.js';
import { manifests } from './manifests.js';
import { status } from './status.js';
import { uninstall } from './uninstall.js';
import { verify } from './verify.js';
import { nodeInstall } from './node-install.js';
import { nodeUninstall } from './node-uninstall.js';

export const COMMANDS: Command[] = [install, status, verify, label, unlabel, uninstall, manifests, nodeInstall, nodeUninstall, bundle, imageBuild, imagePush, clusterCreate, clusterDelete];
