// planConfig: from a config file's bytes and the runtimes wanted, decide the
// file's new bytes. Pure: no I/O, every decision here is unit-tested.
import { KubewasmError } from '../errors.js';
import { findBlock, findTableLines, markAddedLine, markReplacedLine, removeBlock, renderBlock, replaceBlock, restoreMarkedLines, type RuntimeTable } from './block.js';
import { CRI_IMAGES_TABLE, decideLocalPull, LOCAL_PULL_KEY } from './image-pull.js';
import { runtimeValues, type RuntimeSpec } from './runtime.js';
import { formatKey, getPath, isTable, parseToml, type TomlScalar, type TomlTable } from './toml.js';
import { formatVersion, maxConfigVersion, runtimesTablePath, type ContainerdVersion } from './version.js';

export type ConfigFileKind =
  /** A TOML file containerd reads directly. */
  | 'toml'
  /** A Go template k3s/rke2 render into config.toml; it starts with {{ template "base" . }}. */
  | 'k3s-template';

export interface ConfigFacts {
  /** The file kubewasm edits. */
  path: string;
  kind: ConfigFileKind;
  /** Its bytes; undefined when it does not exist. */
  content: Buffer | undefined;
  containerd: Pick<ContainerdVersion, 'major' | 'minor' | 'patch'>;
  /**
   * For a template: the config.toml the distribution last rendered from it
   * (its own base, then the template's text around {{ template "base" . }}).
   * An output of the template, never a second input: planConfig recovers the
   * base from it (renderedBase()) and renders the template over that base to
   * check the result as the TOML containerd will read.
   */
  rendered?: string;
  /**
   * For a bootstrap source (EKS): the file containerd reads, which the
   * distribution overwrites with a copy of the source. It must equal the
   * source, and gets the same new bytes.
   */
  copiedTo?: { path: string; content: Buffer | undefined };
  /**
   * k3s and rke2 register the Wasm shims they find on their PATH themselves
   * (as "wasmtime", "spin", …) when they render config.toml. Writing the same
   * runtime into the template as well would define its table twice.
   */
  autoRegistersShims?: boolean;
}

export interface ConfigPlan {
  path: string;
  before: Buffer | undefined;
  /** undefined: the file is to be removed (kubewasm had created it). */
  after: Buffer | undefined;
  changed: boolean;
  configVersion: number;
  /** Runtimes kubewasm's block registers. */
  registered: string[];
  /** Runtimes the user registered identically; kubewasm leaves them alone. */
  adopted: string[];
  /** Runtimes kubewasm's block registered before and no longer does. */
  dropped: string[];
  /** Runtimes the distribution registers itself at its next restart (k3s, rke2); kubewasm only puts the binary on its PATH. */
  autoRegistered: string[];
  /** Files that get the same new bytes (EKS: the copy containerd reads). */
  copies: string[];
  /**
   * Whether CRI pulls on this node unpack wasi/wasm images, and what kubewasm
   * does about it (undefined: no Wasm runtime asked for, nothing to say).
   */
  imagePull?: ImagePullPlan;
}

export interface ImagePullPlan {
  /**
   * set: kubewasm's part sets use_local_image_pull = true; already: the config
   * does it without kubewasm; not-needed: containerd < 2.1; cannot: kubewasm
   * cannot write it here (the user must).
   */
  decision: 'set' | 'already' | 'not-needed' | 'cannot';
  why: string;
  /** For 'set': in kubewasm's block, or as one marked line in the user's own CRI images table. */
  how?: 'block' | 'line';
}

export const K3S_TEMPLATE_BASE = '{{ template "base" . }}\n';
const BASE_ACTION = '{{ template "base" . }}';

/**
 * k3s's rendering of a template over its base, for a template whose only
 * action is {{ template "base" . }} (all kubewasm reasons about): the text
 * around the action is literal. undefined for other templates.
 */
export function renderK3sTemplate(template: string, base: string): string | undefined {
  const parts = template.split(BASE_ACTION);
  if (parts.length !== 2 || parts.some((part) => part.includes('{{'))) return undefined;
  return parts[0]! + base + parts[1]!;
}

/**
 * The distribution's base config, recovered from the file it rendered: the
 * rendered text minus what the template around the base action added. Tried
 * against the template as it is (rendered after kubewasm's block was
 * written) and without kubewasm's block (rendered before it, or the
 * template absent). When neither explains the file (a template with other
 * actions, or one edited since the last render), the rendered file with any
 * kubewasm block cut out: kubewasm's own runtime is never read back as the
 * user's.
 */
export function renderedBase(rendered: string, templates: ReadonlyArray<string | undefined>, where: string): string {
  // The base is k3s's own text: a kubewasm block in it came from some template, never from the base.
  const withoutBlock = (text: string) => {
    const block = findBlock(text, `${where} (rendered)`);
    return block ? removeBlock(text, block) : text;
  };
  for (const template of templates) {
    if (template === undefined) return withoutBlock(rendered);
    const parts = template.split(BASE_ACTION);
    if (parts.length !== 2 || parts.some((part) => part.includes('{{'))) continue;
    const [prefix, suffix] = parts as [string, string];
    if (rendered.length >= prefix.length + suffix.length && rendered.startsWith(prefix) && rendered.endsWith(suffix)) return withoutBlock(rendered.slice(prefix.length, rendered.length - suffix.length));
  }
  return withoutBlock(rendered);
}

export function planConfig(facts: ConfigFacts, runtimes: RuntimeSpec[]): ConfigPlan {
  const where = facts.path;
  // Lines kubewasm marked inside the user's tables are put back first: every plan starts from the user's bytes.
  const decoded = decodeUtf8(facts.content, where);
  const text = decoded === undefined ? undefined : restoreMarkedLines(decoded, where).text;
  const existing = text === undefined ? undefined : findBlock(text, where);
  const userText = text === undefined ? undefined : existing ? removeBlock(text, existing) : text;
  const createdFile = existing?.createdFile ?? text === undefined;
  checkCopy(facts);

  const { configVersion, userConfig } = readUserConfig(facts, userText);
  const tablePath = runtimesTablePath(configVersion);
  const userRuntimes = getPath(userConfig, tablePath);
  const previouslyRegistered = text !== undefined && existing ? runtimesInBlock(text, existing, tablePath, where) : [];

  const adopted: string[] = [];
  const autoRegistered: string[] = [];
  const toRegister: RuntimeSpec[] = [];
  for (const spec of dedupe(runtimes, where)) {
    const theirs = isTable(userRuntimes) ? userRuntimes[spec.name] : undefined;
    if (theirs === undefined && facts.autoRegistersShims && !spec.runtimePath) autoRegistered.push(spec.name);
    else if (theirs === undefined) toRegister.push(spec);
    else if (sameRuntime(theirs, runtimeValues(spec, facts.containerd.major))) adopted.push(spec.name);
    else throw conflict(spec, theirs, where, facts.kind);
  }

  const options = wasmRuntimeOptions(userRuntimes, facts.containerd.major);
  const tables: RuntimeTable[] = toRegister.map((spec) => ({ keys: [...tablePath, spec.name], values: runtimeValues(spec, facts.containerd.major), options }));
  if (tables.length > 0 && losesDefaultRuntime(facts, userConfig, userRuntimes)) tables.unshift(DEFAULT_RUNC_TABLE);

  const base = userText ?? initialContent(facts.kind, configVersion);
  const wantsWasm = runtimes.length > 0;
  let imagePull = wantsWasm ? planImagePull(facts, userConfig, configVersion, base) : undefined;
  const render = (pull: ImagePullPlan | undefined): string | undefined => {
    const blockTables = pull?.decision === 'set' && pull.how === 'block' ? [...tables, LOCAL_PULL_TABLE] : tables;
    let out: string | undefined;
    if (blockTables.length === 0) out = createdFile && base === initialContent(facts.kind, configVersion) ? undefined : base;
    else out = text !== undefined && existing ? replaceBlock(text, existing, renderBlock(blockTables, createdFile)) : base + renderBlock(blockTables, createdFile);
    if (out !== undefined && pull?.decision === 'set' && pull.how === 'line') out = setLocalPullLine(out);
    return out;
  };
  let afterText = render(imagePull);
  if (imagePull?.decision === 'set' && afterText !== undefined && !localPullReads(facts, afterText, userText)) {
    // The user's file defines the CRI images table in a way a line or a table cannot extend (inline, dotted keys).
    imagePull = { decision: 'cannot', why: `kubewasm cannot add ${LOCAL_PULL_KEY} to how this file writes [${CRI_IMAGES_TABLE.join('.')}]: set \`${LOCAL_PULL_KEY} = true\` there by hand, or Wasm-platform images will fail with 'parent snapshot ... does not exist'` };
    afterText = render(imagePull);
  }

  if (afterText !== undefined && tables.length > 0) checkResult(facts, afterText, userText, tables, where);

  const after = afterText === undefined ? undefined : Buffer.from(afterText, 'utf8');
  return {
    path: facts.path,
    before: facts.content,
    after,
    changed: !sameBytes(facts.content, after),
    configVersion,
    registered: toRegister.map((s) => s.name),
    adopted,
    dropped: previouslyRegistered.filter((name) => name !== 'runc' && !toRegister.some((s) => s.name === name)),
    autoRegistered,
    copies: facts.copiedTo ? [facts.copiedTo.path] : [],
    ...(imagePull ? { imagePull } : {}),
  };
}

const LOCAL_PULL_TABLE: RuntimeTable = { keys: CRI_IMAGES_TABLE, values: { [LOCAL_PULL_KEY]: true }, options: {} };

/**
 * Where use_local_image_pull goes: kubewasm's block when the user's text has
 * no [plugins."io.containerd.cri.v1.images"] header (TOML allows a table
 * header after its subtables), else one marked line in that table. A k3s
 * template's base is k3s's text: a header there cannot be edited.
 */
function planImagePull(facts: ConfigFacts, userConfig: TomlTable, configVersion: number, base: string): ImagePullPlan {
  const decision = decideLocalPull(facts.containerd, userConfig, configVersion);
  if (decision.kind !== 'set') return { decision: decision.kind, why: decision.why };
  if (findTableLines(base, CRI_IMAGES_TABLE, LOCAL_PULL_KEY)) return { decision: 'set', why: decision.why, how: 'line' };
  if (facts.kind === 'k3s-template') {
    const k3s = k3sBase(facts, base);
    if (k3s !== undefined && findTableLines(k3s, CRI_IMAGES_TABLE, LOCAL_PULL_KEY)) {
      return { decision: 'cannot', why: `k3s's own config defines [${CRI_IMAGES_TABLE.join('.')}]; set \`${LOCAL_PULL_KEY} = true\` through k3s (or Wasm-platform images will fail with 'parent snapshot ... does not exist')` };
    }
  }
  return { decision: 'set', why: decision.why, how: 'block' };
}

/** The user's CRI images table with use_local_image_pull = true: their line replaced, or one line added under the header. */
function setLocalPullLine(text: string): string {
  const table = findTableLines(text, CRI_IMAGES_TABLE, LOCAL_PULL_KEY);
  if (!table) return text;
  if (table.keyLine) {
    const indent = /^[ \t]*/.exec(table.keyLine.text)![0];
    return text.slice(0, table.keyLine.start) + markReplacedLine(`${indent}${LOCAL_PULL_KEY} = true`, table.keyLine.text) + text.slice(table.keyLine.end);
  }
  if (table.bodyStart === 0 || text[table.bodyStart - 1] !== '\n') return text; // a header on the last line without a newline: left alone, caught by localPullReads
  const firstKey = /^([ \t]*)[A-Za-z0-9_"'-]/m.exec(text.slice(table.bodyStart, table.bodyEnd));
  const indent = firstKey ? firstKey[1]! : '  ';
  return text.slice(0, table.bodyStart) + markAddedLine(`${indent}${LOCAL_PULL_KEY} = true`) + '\n' + text.slice(table.bodyStart);
}

/** The new text parses and containerd would read use_local_image_pull = true from it (a template: rendered over its base). */
function localPullReads(facts: ConfigFacts, afterText: string, userText: string | undefined): boolean {
  let toCheck = afterText;
  if (facts.kind === 'k3s-template') {
    const k3s = k3sBase(facts, userText) ?? '';
    toCheck = renderK3sTemplate(afterText, k3s) ?? k3s + afterText.replace(BASE_ACTION, '');
  }
  try {
    return getPath(parseToml(toCheck, facts.path), [...CRI_IMAGES_TABLE, LOCAL_PULL_KEY]) === true;
  } catch {
    return false;
  }
}

/** EKS: the source and the copy containerd reads must agree, or writing the source's copy would lose someone's edit of the copy. */
function checkCopy(facts: ConfigFacts): void {
  if (!facts.copiedTo || sameBytes(facts.content, facts.copiedTo.content)) return;
  throw new KubewasmError({
    what: `${facts.copiedTo.path} differs from its bootstrap source ${facts.path}: the node's bootstrap copies the source over it, so an edit made only to ${facts.copiedTo.path} is lost at the next bootstrap, and kubewasm would lose it now`,
    where: facts.copiedTo.path,
    fix: `put the change into ${facts.path} too (or copy ${facts.path} over ${facts.copiedTo.path}), then run kubewasm again; or name the file to edit with --config ${facts.copiedTo.path}`,
  });
}

/** What a missing file is replaced with, before kubewasm's block. */
export function initialContent(kind: ConfigFileKind, configVersion: number): string {
  return kind === 'k3s-template' ? K3S_TEMPLATE_BASE : `version = ${configVersion}\n`;
}

function readUserConfig(facts: ConfigFacts, userText: string | undefined): { configVersion: number; userConfig: TomlTable } {
  const readable = maxConfigVersion(facts.containerd);
  if (facts.kind === 'k3s-template') {
    if (userText !== undefined && !userText.includes('{{ template "base" . }}')) {
      throw new KubewasmError({
        what: 'this template does not start from k3s\'s base template ({{ template "base" . }}): it is a frozen copy of a generated config, which breaks on k3s upgrades',
        where: facts.path,
        fix: 'make the template\'s first line {{ template "base" . }} and keep only your own additions below it, then run kubewasm again',
      });
    }
    const base = k3sBase(facts, userText);
    const own = base === undefined ? {} : parseToml(renderK3sTemplate(userText ?? K3S_TEMPLATE_BASE, base) ?? base, `${facts.path} (rendered over the base config)`);
    const declared = typeof own['version'] === 'number' ? own['version'] : readable;
    return { configVersion: checkVersion(declared, facts, readable), userConfig: own };
  }
  if (userText === undefined) return { configVersion: readable, userConfig: {} };
  const config = parseToml(userText, facts.path);
  const declared = config['version'] === undefined ? 1 : config['version'];
  return { configVersion: checkVersion(declared, facts, readable), userConfig: config };
}

/** The base k3s renders the template over, recovered from its last render (undefined: never rendered). */
function k3sBase(facts: ConfigFacts, userText: string | undefined): string | undefined {
  if (facts.rendered === undefined) return undefined;
  return renderedBase(facts.rendered, [facts.content?.toString('utf8'), userText], facts.path);
}

function checkVersion(declared: unknown, facts: ConfigFacts, readable: number): number {
  const containerd = formatVersion(facts.containerd);
  if (declared === 1) {
    throw new KubewasmError({
      what: 'this is a version 1 containerd config (it has no `version = 2` or later line); kubewasm does not edit version 1 files',
      where: facts.path,
      fix: `migrate it: run \`containerd config migrate > new.toml\` (containerd 1.7+/2.x) or regenerate with \`containerd config default\`, review, replace the file, then run kubewasm again`,
    });
  }
  if (typeof declared !== 'number' || !Number.isInteger(declared) || declared < 2 || declared > 4) {
    throw new KubewasmError({ what: `unknown config version ${JSON.stringify(declared)}; kubewasm knows versions 2, 3 and 4`, where: facts.path, fix: 'set `version` to the one your containerd writes (`containerd config default | head -1`)' });
  }
  if (declared > readable) {
    throw new KubewasmError({
      what: `the file declares config version ${declared}, but this node's containerd ${containerd} reads only up to version ${readable}; containerd will not start with it`,
      where: facts.path,
      fix: `regenerate the file with this node's containerd (\`containerd config default\`) or upgrade containerd; kubewasm left the file untouched`,
    });
  }
  return declared;
}

function sameRuntime(theirs: unknown, wanted: Record<string, string>): boolean {
  if (!isTable(theirs)) return false;
  const path = theirs['runtime_path'] === '' ? undefined : theirs['runtime_path']; // containerd's defaults write ""
  return theirs['runtime_type'] === wanted['runtime_type'] && path === wanted['runtime_path'];
}

function conflict(spec: RuntimeSpec, theirs: unknown, where: string, kind: ConfigFileKind): KubewasmError {
  const type = isTable(theirs) ? JSON.stringify(theirs['runtime_type'] ?? '(none)') : '(not a table)';
  const path = isTable(theirs) && theirs['runtime_path'] ? ` and runtime_path ${JSON.stringify(theirs['runtime_path'])}` : '';
  return new KubewasmError({
    what: `runtime '${spec.name}' is already registered with runtime_type ${type}${path}; kubewasm would register runtime_type "${spec.runtimeType}"${spec.runtimePath ? ` with runtime_path "${spec.runtimePath}"` : ''}`,
    where: kind === 'k3s-template' ? `${where} (rendered config)` : where,
    fix: `remove or rename your '${spec.name}' runtime in the config, or keep it and do not ask kubewasm for '${spec.name}'`,
  });
}

/**
 * containerd 1.x replaces its default `runtimes` map (which holds runc) with
 * the file's as soon as the file defines any runtime: a file that relied on
 * the default runc would lose it, and the CRI plugin would refuse to load
 * ("no corresponding runtime configured in containerd.runtimes for
 * default_runtime_name runc"). 2.x merges the maps. So on 1.x kubewasm's
 * block carries containerd's own default runc entry when the file has none.
 */
const DEFAULT_RUNC_TABLE: RuntimeTable = {
  keys: ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes', 'runc'],
  values: { runtime_type: 'io.containerd.runc.v2' },
  options: {},
};

function losesDefaultRuntime(facts: ConfigFacts, userConfig: TomlTable, userRuntimes: unknown): boolean {
  if (facts.containerd.major >= 2 || facts.kind !== 'toml') return false;
  const defaultName = getPath(userConfig, ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'default_runtime_name']) ?? 'runc';
  return defaultName === 'runc' && !(isTable(userRuntimes) && isTable(userRuntimes['runc']));
}

/**
 * runwasi shims default to cgroupfs; a node whose runc uses systemd cgroups
 * needs the same for its Wasm runtimes. The shims read their options as
 * containerd's runtimeoptions.v1.Options, whose `config_body` holds TOML.
 * containerd 2.x fills config_body from the runtime's `options` table;
 * containerd 1.x does not: it decodes the table into the Options struct
 * itself, so the shim receives an empty body and refuses the task ("invalid
 * shim options: TOML parse error at line 1, column 1" - seen on the lab's
 * 1.6 node). On 1.x the setting goes into ConfigBody, and the default
 * (cgroupfs) writes no options at all.
 */
function wasmRuntimeOptions(userRuntimes: unknown, containerdMajor: number): Record<string, TomlScalar> {
  const systemd = getPath(isTable(userRuntimes) ? userRuntimes : {}, ['runc', 'options', 'SystemdCgroup']);
  if (typeof systemd !== 'boolean') return {};
  if (containerdMajor >= 2) return { SystemdCgroup: systemd };
  return systemd ? { ConfigBody: 'SystemdCgroup = true\n' } : {};
}

function runtimesInBlock(text: string, block: { start: number; end: number }, tablePath: string[], where: string): string[] {
  const parsed = parseToml(text.slice(block.start, block.end), `${where} (kubewasm's block)`);
  const table = getPath(parsed, tablePath);
  return isTable(table) ? Object.keys(table) : [];
}

/** The new file must parse, hold each runtime as planned, and (for templates) render to valid TOML. */
function checkResult(facts: ConfigFacts, afterText: string, userText: string | undefined, tables: RuntimeTable[], where: string): void {
  let toCheck = afterText;
  if (facts.kind === 'k3s-template') {
    // What k3s will render: the new template over the base, the old render never a second input.
    const base = k3sBase(facts, userText) ?? '';
    toCheck = renderK3sTemplate(afterText, base) ?? base + afterText.replace(BASE_ACTION, '');
  }
  let parsed: TomlTable;
  try {
    parsed = parseToml(toCheck, where);
  } catch (err) {
    const inline = findInlineTable(userText ?? facts.rendered ?? '', tables[0]!.keys);
    if (inline) {
      throw new KubewasmError({
        what: `'${inline.table}' is written as an inline table (${inline.key} = { ... }); TOML cannot extend an inline table, so kubewasm cannot add its runtimes there`,
        where,
        fix: `rewrite '${inline.table}' as [${inline.table}] table sections, then run kubewasm again; kubewasm left the file untouched`,
      });
    }
    throw new KubewasmError({ what: `adding kubewasm's runtimes would make the config invalid: ${(err as Error).message}`, where, fix: 'check the file for tables kubewasm would define again, fix it by hand, and run kubewasm again', cause: err });
  }
  for (const table of tables) {
    const entry = getPath(parsed, table.keys);
    if (!isTable(entry) || entry['runtime_type'] !== table.values['runtime_type']) {
      throw new KubewasmError({ what: `after the edit, containerd would not see runtime '${table.keys.at(-1)}' where kubewasm put it`, where, fix: 'report this to kubewasm with the config file attached' });
    }
  }
}

/** The first table on the path that the text defines inline (`key = {`): its dotted name and its own key. */
function findInlineTable(text: string, keys: string[]): { table: string; key: string } | undefined {
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i - 1]!;
    const pattern = new RegExp(`^\\s*(?:"${escapeRegExp(key)}"|${escapeRegExp(key)})\\s*=\\s*\\{`, 'm');
    if (pattern.test(text)) return { table: keys.slice(0, i).map(formatKey).join('.'), key: formatKey(key) };
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function dedupe(runtimes: RuntimeSpec[], where: string): RuntimeSpec[] {
  const seen = new Map<string, RuntimeSpec>();
  for (const spec of runtimes) {
    const before = seen.get(spec.name);
    if (before && (before.runtimeType !== spec.runtimeType || before.runtimePath !== spec.runtimePath)) {
      throw new KubewasmError({ what: `runtime '${spec.name}' was asked for twice with different settings`, where, exitCode: 2 });
    }
    seen.set(spec.name, spec);
  }
  return [...seen.values()];
}

function decodeUtf8(content: Buffer | undefined, where: string): string | undefined {
  if (content === undefined) return undefined;
  const text = content.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(content)) {
    throw new KubewasmError({ what: 'the file is not valid UTF-8 (TOML must be); kubewasm will not edit it', where, fix: 'fix the encoding by hand, then run kubewasm again' });
  }
  return text;
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}
