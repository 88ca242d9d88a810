// Citations of the behaviour documents: every `docs/<file>.md §<n>` in the code, tests, scripts
// and READMEs names a file in docs/ and a numbered section heading in it (`## 4.` or `### 4.2`),
// so a reader can open what the code says it implements; and nothing cites a document outside
// the repository (the specs the project was written from, or their "design decisions").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SOURCES = ['lib', 'cmd', 'test', 'bench', 'scripts', 'docs', 'native'];
const EXT = /\.(ts|mjs|md|c)$/;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (EXT.test(e.name)) out.push(p);
  }
  return out;
}

/** Every file a citation can stand in: the sources, tests, scripts, documents and the README. */
function sourceFiles(): string[] {
  return [...SOURCES.filter((d) => fs.existsSync(path.join(root, d))).flatMap((d) => files(path.join(root, d))), path.join(root, 'README.md')];
}

/** Section numbers a document defines: "## 4. Title" → 4, "### 4.2 Title" → 4.2. */
function sections(doc: string): Set<string> {
  const out = new Set<string>();
  for (const m of doc.matchAll(/^#{2,6} (\d+(?:\.\d+)*)\.? /gm)) out.add(m[1]);
  return out;
}

/** Every `docs/<name>.md` citation, with its section numbers (`§2.1–2.3` gives both ends). */
export function citations(text: string): { doc: string; sections: string[] }[] {
  const out: { doc: string; sections: string[] }[] = [];
  for (const m of text.matchAll(/docs\/([\w-]+\.md)(?: ?§ ?(\d+(?:\.\d+)*)(?:[–-](\d+(?:\.\d+)*))?)?/g)) {
    out.push({ doc: m[1], sections: [m[2], m[3]].filter((x): x is string => x !== undefined) });
  }
  return out;
}

test('citations(): files, sections and ranges', () => {
  assert.deepEqual(citations('see docs/dnssec.md §2.1–2.3 and docs/deploy.md, (docs/dnssec.md §5)'), [
    { doc: 'dnssec.md', sections: ['2.1', '2.3'] },
    { doc: 'deploy.md', sections: [] },
    { doc: 'dnssec.md', sections: ['5'] },
  ]);
  assert.deepEqual([...sections('# T\n## 1. A\n### 1.2 B\n#### 10.3.1 C\nno ## 4. here')], ['1', '1.2', '10.3.1']);
});

test('every docs/ citation names a document and a section that exist', () => {
  const bad: string[] = [];
  let count = 0;
  const docs = new Map<string, Set<string>>();
  const all = sourceFiles();
  for (const file of all) {
    const text = fs.readFileSync(file, 'utf8');
    for (const c of citations(text)) {
      count++;
      const docPath = path.join(root, 'docs', c.doc);
      if (!docs.has(c.doc)) docs.set(c.doc, fs.existsSync(docPath) ? sections(fs.readFileSync(docPath, 'utf8')) : new Set(['<missing>']));
      const have = docs.get(c.doc)!;
      if (have.has('<missing>')) bad.push(`${path.relative(root, file)}: docs/${c.doc} does not exist`);
      for (const s of c.sections) if (!have.has(s)) bad.push(`${path.relative(root, file)}: docs/${c.doc} has no section ${s}`);
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(count >= 40, `only ${count} citations found: the scan is not reading the sources`);
});

/** A citation of a document that is not in the repository. */
const OUTSIDE = /(?:\.\.\/shared\/|(?<![\w/])spec\/)[\w-]+\.md|design decision \d/g;

test('OUTSIDE finds citations of documents outside the repository, and not ours', () => {
  assert.deepEqual('see spec/skydns.md §2, ../shared/design.md and design decision 6'.match(OUTSIDE), ['spec/skydns.md', '../shared/design.md', 'design decision 6']);
  assert.equal('docs/skydns.md §2 and lib/dnssec/spec.ts'.match(OUTSIDE), null);
});

test('no citation points outside the repository', () => {
  const self = fileURLToPath(import.meta.url).replace(/\/dist\/(test\/.*)\.js$/, '/$1.ts');
  const found: string[] = [];
  for (const file of sourceFiles()) {
    if (file === self) continue;
    for (const m of fs.readFileSync(file, 'utf8').matchAll(OUTSIDE)) found.push(`${path.relative(root, file)}: ${m[0]}`);
  }
  assert.deepEqual(found, []);
});
