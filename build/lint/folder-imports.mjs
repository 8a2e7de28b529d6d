// ESLint rule enforcing the layers of docs/architecture.md: which folder may import what. Fails the lint (and CI) on a
// forbidden import, e.g. `electron` from electron/engine/ or any `node:` module from electron/shared/.
import path from 'node:path';
import { builtinModules } from 'node:module';

const root = path.resolve(import.meta.dirname, '../..');
const builtins = new Set(builtinModules);
const isBuiltin = (s) => s.startsWith('node:') || builtins.has(s.split('/')[0]);

/** folder → policy. `folders`: repo folders it may import from; `types`: folders it may only `import type` from. */
export const POLICY = {
  'electron/shared': { folders: ['electron/shared'], node: false, packages: [] },
  // the guest channel's host end: Node and the contract only, so it stays a self-contained codec and mux
  'electron/engine/channel': { folders: ['electron/shared', 'electron/engine/channel'], node: true, packages: [] },
  'electron/engine': { folders: ['electron/shared', 'electron/engine', 'electron/engine/channel'], node: true, packages: '*', forbid: ['electron'] },
  'electron/main': { folders: ['electron/shared', 'electron/engine', 'electron/engine/channel', 'electron/main'], node: true, packages: '*' },
  'electron/preload': { folders: ['electron/preload'], types: ['electron/shared'], node: false, packages: ['electron'] },
  'electron/cli': { folders: ['electron/shared', 'electron/engine', 'electron/engine/channel', 'electron/cli'], node: true, packages: '*', forbid: ['electron'] },
  'renderer/src': {
    folders: ['renderer/src'],
    types: ['electron/shared'],
    node: false,
    packages: ['react', 'react-dom', 'zustand', '@xterm/xterm', '@xterm/addon-fit'],
  },
};

function folderOf(abs) {
  const rel = path.relative(root, abs).split(path.sep).join('/');
  // the most specific folder wins (electron/engine/channel over electron/engine)
  return Object.keys(POLICY)
    .filter((f) => rel === f || rel.startsWith(f + '/'))
    .sort((a, b) => b.length - a.length)[0];
}

function check(context, node, source, typeOnly) {
  const file = context.filename ?? context.getFilename();
  const from = folderOf(file);
  if (!from || typeof source !== 'string') return;
  const p = POLICY[from];
  const report = (why) => context.report({ node, message: `${from}/ may not import '${source}': ${why} (see docs/architecture.md, Layers)` });
  if (source.startsWith('.')) {
    const target = folderOf(path.resolve(path.dirname(file), source));
    if (!target) return report('outside the folders it may use');
    if (p.folders.includes(target)) return;
    if (p.types?.includes(target)) return typeOnly ? undefined : report('only `import type` is allowed from there');
    return report(`${target}/ is off limits`);
  }
  const pkg = source.startsWith('@') ? source.split('/').slice(0, 2).join('/') : source.split('/')[0];
  if (isBuiltin(source)) return p.node ? undefined : report('no Node modules here');
  if (p.forbid?.includes(pkg)) return report(`'${pkg}' is forbidden here`);
  if (p.packages === '*' || p.packages.includes(pkg)) return;
  return report('package not allowed here');
}

export default {
  rules: {
    'folder-imports': {
      meta: { type: 'problem', schema: [] },
      create(context) {
        return {
          ImportDeclaration(node) {
            const allType = node.importKind === 'type' || (node.specifiers.length > 0 && node.specifiers.every((s) => s.importKind === 'type'));
            check(context, node, node.source.value, allType);
          },
          ExportNamedDeclaration(node) {
            if (node.source) check(context, node, node.source.value, node.exportKind === 'type');
          },
          ExportAllDeclaration(node) {
            check(context, node, node.source.value, node.exportKind === 'type');
          },
          ImportExpression(node) {
            if (node.source.type === 'Literal') check(context, node, node.source.value, false);
          },
          CallExpression(node) {
            if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') {
              check(context, node, node.arguments[0].value, false);
            }
          },
        };
      },
    },
  },
};
