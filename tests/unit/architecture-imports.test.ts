// The folders of src/ form layers (DESIGN.md, "Architecture"): no two folders import each other,
// directly or around a loop, so each can be read, tested and changed from the bottom up. The
// shared errors (src/errors.ts) sit below all of them, the entry (src/main.tsx) above.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(name) ? [path] : [];
  });
}

/** The folder directly under src/ that holds `path`; a file at the top (main.tsx, errors.ts) stands for itself. */
function folderOf(path: string): string {
  const parts = relative(SRC, path).split('/');
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.tsx?$/, '');
}

/** Folder → folders it imports (type-only imports count: they tie the folders together too). */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), match[1]);
      if (!target.startsWith(SRC)) continue;
      // '../store' names a folder (its index.ts); './x' a file.
      const to = existsSync(target) && statSync(target).isDirectory() ? relative(SRC, target).split('/')[0] : folderOf(`${target}.ts`);
      if (to !== from && !edges.has(to)) edges.set(to, relative(SRC, file));
    }
  }
  return graph;
}

/** Every cycle through the folder graph, each once, as "a → b → a (via files)". */
function cycles(graph: Map<string, Map<string, string>>): string[] {
  const found = new Set<string>();
  const walk = (start: string, at: string, path: string[]) => {
    for (const [next, via] of graph.get(at) ?? []) {
      if (next === start) {
        const loop = [...path, `${at} (${via})`, start];
        const key = [...path.map((p) => p.split(' ')[0]), at].sort().join(',');
        if (!found.has(key)) found.add(`${key}|${loop.join(' → ')}`);
      } else if (!path.some((p) => p.split(' ')[0] === next) && next !== at && path.length < 6) {
        walk(start, next, [...path, `${at} (${via})`]);
      }
    }
  };
  for (const folder of graph.keys()) walk(folder, folder, []);
  const byKey = new Map<string, string>();
  for (const entry of found) {
    const [key, text] = entry.split('|');
    if (text && !byKey.has(key)) byKey.set(key, text);
  }
  return [...byKey.values()];
}

describe('src/ folders', () => {
  it('import one another without cycles', () => {
    expect(cycles(folderGraph())).toEqual([]);
  });
});
