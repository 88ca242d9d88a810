// The in-memory record tree: etcd v2 semantics over v3 keys (docs/design.md §2),
// wildcards and attribute-leaf skipping (decision 6), and its bookkeeping.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Entry, LookupOptions, RecordTree, identOf, isWildcard } from '../../lib/skydns/tree.js';
import { rng } from '../harness/random.js';

const P = '/skydns';
const v = (host: string) => JSON.stringify({ host });

function tree(keys: readonly string[]): RecordTree {
  const t = new RecordTree('skydns');
  for (const k of keys) t.put(`${P}/${k}`, v(k));
  return t;
}

/** Keys (below the prefix) of a lookup's entries, in order. */
function look(t: RecordTree, segs: string, opts: LookupOptions = {}): { exists: boolean; keys: string[] } {
  const r = t.lookup(segs === '' ? [] : segs.split('/'), opts);
  return { exists: r.exists, keys: r.entries.map((e: Entry) => e.key.slice(P.length + 1)) };
}

const SAMPLE = [
  'test/skydns/a',
  'test/skydns/ab',
  'test/skydns/ipaddr/a',
  'test/skydns/ipaddr/b',
  'test/skydns/ipaddr2/a',
  'test/skydns/region1/development/server1/100',
  'test/skydns/region1/development/server1/104',
  'test/skydns/region1/production/server2/101',
  'test/skydns/region2/production/server3/105',
  'test/skydns/web/8e147811',
  'test/skydns/web/_tcp/_http/8e147811',
  'test/skydns/web/d138cc96',
  'test/skydns/web/_tcp/_http/d138cc96',
  'test/skydns/both',
  'test/skydns/both/child',
];

describe('RecordTree bookkeeping', () => {
  test('put decodes the value once and keeps what answers read: the lease, the address as octets, the target', () => {
    const t = new RecordTree('skydns');
    const e = t.put(`${P}/test/skydns/a`, '{"host":"10.0.0.1","port":80}', '7587869623437213700');
    assert.ok(e);
    assert.equal(e.key, `${P}/test/skydns/a`);
    assert.equal(e.ip, '\x0a\x00\x00\x01');
    assert.equal(e.target, '');
    assert.equal(e.lease, '7587869623437213700');
    assert.equal(e.error, null);
    assert.equal(e.svc?.host, '10.0.0.1');
    assert.equal(e.svc?.port, 80);
    assert.equal(e.svc?.key, `${P}/test/skydns/a`);
    assert.equal(t.get(`${P}/test/skydns/a`), e);
    assert.equal(t.put(`${P}/test/skydns/b`, v('x'))?.lease, '0');
    const six = t.put(`${P}/test/skydns/c`, '{"host":"2001:db8::1"}');
    assert.equal(six?.ip, String.fromCharCode(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
    const mapped = t.put(`${P}/test/skydns/d`, '{"host":"::ffff:10.0.0.2"}');
    assert.equal(mapped?.ip, '\x0a\x00\x00\x02', 'an IPv4-mapped address is an IPv4 address');
    const named = t.put(`${P}/test/skydns/e`, '{"host":"web.example.com","port":8080,"text":"t"}');
    assert.equal(named?.ip, null);
    assert.equal(named?.target, 'web.example.com.');
    // The duplicate key is made when an answer first needs it, then kept.
    assert.equal(named?.ident, null);
    assert.equal(identOf(named!), 'web.example.com\u00008080\u00000\u00000\u0000t');
    assert.equal(named?.ident, identOf(named!));
  });

  test('keys outside the prefix are ignored', () => {
    const t = new RecordTree('skydns');
    assert.equal(t.put('/other/test/a', v('10.0.0.1')), null);
    assert.equal(t.put('/skydnsx/a', v('10.0.0.1')), null);
    assert.equal(t.put('/skydns', v('10.0.0.1')), null);
    assert.equal(t.size, 0);
    assert.equal(t.generation, 0);
    assert.equal(t.get('/other/test/a'), null);
    assert.equal(t.delete('/other/test/a'), false);
  });

  test('a custom prefix', () => {
    const t = new RecordTree('mydns');
    assert.ok(t.put('/mydns/local/skydns/a', v('10.0.0.1')));
    assert.equal(t.put('/skydns/local/skydns/a', v('10.0.0.1')), null);
    assert.deepEqual(t.keys(), ['/mydns/local/skydns/a']);
    assert.deepEqual(t.segments('/mydns/local/skydns/a'), ['local', 'skydns', 'a']);
  });

  test('bad values are kept with their error and counted', () => {
    const t = new RecordTree('skydns');
    const bad = t.put(`${P}/x/bad`, '{"host":"10.0.0.1","port":"80"}');
    assert.ok(bad);
    assert.equal(bad.svc, null);
    assert.match(bad.error ?? '', /\/skydns\/x\/bad/);
    t.put(`${P}/x/worse`, 'not json');
    assert.equal(t.invalid, 2);
    assert.equal(t.size, 2);
    t.put(`${P}/x/bad`, v('10.0.0.1')); // fixed in place
    assert.equal(t.invalid, 1);
    assert.equal(t.size, 2);
    t.put(`${P}/x/good`, v('10.0.0.2'));
    t.put(`${P}/x/good`, 'broken again');
    assert.equal(t.invalid, 2);
    t.delete(`${P}/x/worse`);
    t.delete(`${P}/x/good`);
    assert.equal(t.invalid, 0);
    assert.equal(t.size, 1);
  });

  test('size counts keys; replacing a key does not count twice', () => {
    const t = tree(SAMPLE);
    assert.equal(t.size, SAMPLE.length);
    t.put(`${P}/test/skydns/a`, v('10.0.0.9'));
    assert.equal(t.size, SAMPLE.length);
    assert.equal(t.get(`${P}/test/skydns/a`)?.svc?.host, '10.0.0.9');
  });

  test('generation moves on every change and only then', () => {
    const t = new RecordTree('skydns');
    assert.equal(t.generation, 0);
    t.put(`${P}/a/b`, v('1'));
    assert.equal(t.generation, 1);
    t.put(`${P}/a/b`, v('1')); // a rewrite is a change too (etcd revision moved)
    assert.equal(t.generation, 2);
    assert.equal(t.delete(`${P}/a/c`), false);
    assert.equal(t.delete(`${P}/a`), false); // a directory, not a key
    assert.equal(t.generation, 2);
    assert.equal(t.delete(`${P}/a/b`), true);
    assert.equal(t.generation, 3);
    assert.equal(t.delete(`${P}/a/b`), false);
    assert.equal(t.generation, 3);
    t.clear();
    assert.equal(t.generation, 4);
  });

  test('delete prunes empty branches only', () => {
    const t = tree(['test/skydns/x/y/z/leaf', 'test/skydns/x/other']);
    assert.equal(t.delete(`${P}/test/skydns/x/y/z/leaf`), true);
    assert.equal(t.exists(['test', 'skydns', 'x', 'y']), false);
    assert.equal(t.exists(['test', 'skydns', 'x', 'y', 'z']), false);
    assert.equal(t.exists(['test', 'skydns', 'x']), true);
    assert.deepEqual(look(t, 'test/skydns/x/y'), { exists: false, keys: [] });
    assert.equal(t.delete(`${P}/test/skydns/x/other`), true);
    assert.equal(t.exists(['test']), false);
    assert.equal(t.exists([]), false);
    assert.equal(t.size, 0);
    assert.deepEqual(t.keys(), []);
    // The tree is usable again after being emptied.
    t.put(`${P}/test/skydns/x/y`, v('10.0.0.1'));
    assert.deepEqual(t.keys(), [`${P}/test/skydns/x/y`]);
  });

  test('a leaf whose last child was deleted is a plain leaf again (wildcards below it return it)', () => {
    const t = tree(['test/skydns/x', 'test/skydns/x/y/z']);
    assert.deepEqual(look(t, 'test/skydns/x/*'), { exists: true, keys: ['test/skydns/x/y/z'] });
    t.delete(`${P}/test/skydns/x/y/z`);
    assert.deepEqual(look(t, 'test/skydns/x/*'), { exists: true, keys: ['test/skydns/x'] });
  });

  test('deleting a value that has children keeps the children', () => {
    const t = tree(['test/skydns/both', 'test/skydns/both/child']);
    assert.equal(t.delete(`${P}/test/skydns/both`), true);
    assert.equal(t.get(`${P}/test/skydns/both`), null);
    assert.deepEqual(look(t, 'test/skydns/both'), { exists: true, keys: ['test/skydns/both/child'] });
    assert.equal(t.delete(`${P}/test/skydns/both/child`), true);
    assert.equal(t.exists(['test', 'skydns', 'both']), false);
    assert.equal(t.size, 0);
  });

  test('clear empties everything', () => {
    const t = tree(SAMPLE);
    t.put(`${P}/bad`, 'nope');
    t.clear();
    assert.equal(t.size, 0);
    assert.equal(t.invalid, 0);
    assert.deepEqual(t.keys(), []);
    assert.equal(t.exists(['test']), false);
  });

  test('keys() lists every key in tree order (value before children, children sorted)', () => {
    const t = tree(['z/b', 'z', 'z/a/c', 'a']);
    assert.deepEqual(t.keys(), [`${P}/a`, `${P}/z`, `${P}/z/a/c`, `${P}/z/b`]);
  });

  test('a node with few children and one with many (the two ways a node keeps them) agree with a plain sorted set, under random puts and deletes', () => {
    // Under x/ the children come and go across the bound between the two forms (8), in and out of
    // order, with underscore labels and labels that sort by code unit ('B' < '_' < 'a').
    const labels = ['a', 'b', '_tcp', 'B', 'z9', 'y', 'c', 'ab', '_udp', 'q', 'r', 's', 'Z', 'm', 'n', 'o'];
    const random = rng(7);
    const t = new RecordTree('skydns');
    const held = new Set<string>();
    for (let step = 0; step < 3000; step++) {
      const key = `x/${labels[Math.floor(random() * labels.length)]}${random() < 0.3 ? '/leaf' : ''}`;
      if (random() < 0.55) {
        t.put(`${P}/${key}`, v(key));
        held.add(key);
      } else {
        assert.equal(t.delete(`${P}/${key}`), held.has(key));
        held.delete(key);
      }
      const want = [...held].sort((p, q) => {
        // Tree order: segment by segment, a key before the keys below it.
        const a = p.split('/');
        const b = q.split('/');
        for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
        return a.length - b.length;
      });
      assert.deepEqual(t.keys(), want.map((k) => `${P}/${k}`), `after step ${step}`);
      // Through a wildcard: each child's subtree, children in order (every key here is x/<label>…).
      assert.deepEqual(look(t, 'x/*').keys, want);
      assert.deepEqual(look(t, 'x/*', { skipAttrleaf: true }).keys, want.filter((k) => !k.split('/')[1].startsWith('_')));
      for (const l of labels) assert.equal(t.exists(['x', l]), want.some((k) => k === `x/${l}` || k.startsWith(`x/${l}/`)));
      assert.deepEqual(look(t, 'x', { skipAttrleaf: true }).keys, want.filter((k) => !k.split('/')[1].startsWith('_')));
    }
  });
});

describe('RecordTree.exists', () => {
  const t = tree(SAMPLE);
  const cases: [string, boolean][] = [
    ['test/skydns/a', true], // the key itself
    ['test/skydns/ipaddr', true], // a key below
    ['test/skydns', true],
    ['', true], // the root
    ['test/skydns/ipadd', false], // a bare string prefix of a key
    ['test/skydns/ipaddr/a/x', false], // below a leaf
    ['test/skydns/nothere', false],
    ['test/skydns/web/_tcp', true],
    ['test/skydns/both', true],
  ];
  for (const [segs, want] of cases) {
    test(`${segs || '(root)'} → ${want}`, () => assert.equal(t.exists(segs === '' ? [] : segs.split('/')), want));
  }
  test('/a never matches /ab', () => {
    const only = tree(['test/skydns/ab']);
    assert.equal(only.exists(['test', 'skydns', 'a']), false);
    assert.deepEqual(look(only, 'test/skydns/a'), { exists: false, keys: [] });
  });
});

describe('RecordTree.lookup', () => {
  const t = tree(SAMPLE);
  interface LookupCase {
    name: string;
    segs: string;
    opts?: LookupOptions;
    exists: boolean;
    keys: string[];
  }
  const WEB_ALL = ['test/skydns/web/8e147811', 'test/skydns/web/_tcp/_http/8e147811', 'test/skydns/web/_tcp/_http/d138cc96', 'test/skydns/web/d138cc96'];
  const cases: LookupCase[] = [
    { name: 'a leaf', segs: 'test/skydns/a', exists: true, keys: ['test/skydns/a'] },
    { name: 'a leaf is not a prefix of its sibling', segs: 'test/skydns/ipaddr', exists: true, keys: ['test/skydns/ipaddr/a', 'test/skydns/ipaddr/b'] },
    {
      name: 'a directory returns every leaf at any depth, in key order',
      segs: 'test/skydns/region1',
      exists: true,
      keys: ['test/skydns/region1/development/server1/100', 'test/skydns/region1/development/server1/104', 'test/skydns/region1/production/server2/101'],
    },
    { name: 'missing', segs: 'test/skydns/nothere', exists: false, keys: [] },
    { name: 'bare prefix', segs: 'test/skydns/ipadd', exists: false, keys: [] },
    { name: 'value and children: value first', segs: 'test/skydns/both', exists: true, keys: ['test/skydns/both', 'test/skydns/both/child'] },
    { name: 'exact: a leaf', segs: 'test/skydns/a', opts: { exact: true }, exists: true, keys: ['test/skydns/a'] },
    { name: 'exact: a directory exists but yields nothing', segs: 'test/skydns/ipaddr', opts: { exact: true }, exists: true, keys: [] },
    { name: 'exact: value and children yields the value only', segs: 'test/skydns/both', opts: { exact: true }, exists: true, keys: ['test/skydns/both'] },
    { name: 'exact: missing', segs: 'test/skydns/nothere', opts: { exact: true }, exists: false, keys: [] },
    { name: 'subtree sees attribute leaves by default', segs: 'test/skydns/web', exists: true, keys: WEB_ALL },
    {
      name: 'skipAttrleaf leaves out leaves below underscore labels',
      segs: 'test/skydns/web',
      opts: { skipAttrleaf: true },
      exists: true,
      keys: ['test/skydns/web/8e147811', 'test/skydns/web/d138cc96'],
    },
    {
      name: 'skipAttrleaf: underscore labels named in the query are fine',
      segs: 'test/skydns/web/_tcp/_http',
      opts: { skipAttrleaf: true },
      exists: true,
      keys: ['test/skydns/web/_tcp/_http/8e147811', 'test/skydns/web/_tcp/_http/d138cc96'],
    },
    { name: 'skipAttrleaf: below one underscore label', segs: 'test/skydns/web/_tcp', opts: { skipAttrleaf: true }, exists: true, keys: [] },
    { name: 'wildcard * matches one segment', segs: 'test/skydns/ipaddr/*', exists: true, keys: ['test/skydns/ipaddr/a', 'test/skydns/ipaddr/b'] },
    { name: 'wildcard any matches one segment', segs: 'test/skydns/ipaddr/any', exists: true, keys: ['test/skydns/ipaddr/a', 'test/skydns/ipaddr/b'] },
    {
      name: 'wildcard keeps keys with more segments',
      segs: 'test/skydns/region1/*',
      exists: true,
      keys: ['test/skydns/region1/development/server1/100', 'test/skydns/region1/development/server1/104', 'test/skydns/region1/production/server2/101'],
    },
    {
      name: 'wildcard in the middle',
      segs: 'test/skydns/*/production',
      exists: true,
      keys: ['test/skydns/region1/production/server2/101', 'test/skydns/region2/production/server3/105'],
    },
    { name: 'several wildcards', segs: 'test/skydns/*/production/*/*', exists: true, keys: ['test/skydns/region1/production/server2/101', 'test/skydns/region2/production/server3/105'] },
    { name: 'wildcard drops keys with fewer segments', segs: 'test/skydns/*/*', exists: true, keys: [
      'test/skydns/both/child',
      'test/skydns/ipaddr/a',
      'test/skydns/ipaddr/b',
      'test/skydns/ipaddr2/a',
      'test/skydns/region1/development/server1/100',
      'test/skydns/region1/development/server1/104',
      'test/skydns/region1/production/server2/101',
      'test/skydns/region2/production/server3/105',
      'test/skydns/web/8e147811',
      'test/skydns/web/_tcp/_http/8e147811',
      'test/skydns/web/_tcp/_http/d138cc96',
      'test/skydns/web/d138cc96',
    ] },
    { name: 'wildcard with no match below an existing name', segs: 'test/skydns/ipaddr/*/x', exists: true, keys: [] },
    { name: 'wildcard below a missing name', segs: 'test/skydns/nothere/*', exists: false, keys: [] },
    { name: 'wildcard right below a leaf returns the leaf (SkyDNS v2)', segs: 'test/skydns/a/*', exists: true, keys: ['test/skydns/a'] },
    { name: 'wildcard right below a value with children filters the children', segs: 'test/skydns/both/*', exists: true, keys: ['test/skydns/both/child'] },
    { name: 'wildcard with exact: a directory yields nothing', segs: 'test/skydns/ipaddr/*', opts: { exact: true }, exists: true, keys: [] },
    { name: 'wildcard with exact: a leaf yields itself', segs: 'test/skydns/a/*', opts: { exact: true }, exists: true, keys: ['test/skydns/a'] },
    { name: 'wildcard sees underscore segments by default', segs: 'test/skydns/web/*/*', exists: true, keys: ['test/skydns/web/_tcp/_http/8e147811', 'test/skydns/web/_tcp/_http/d138cc96'] },
    { name: 'wildcard with skipAttrleaf does not match underscore segments', segs: 'test/skydns/web/*/*', opts: { skipAttrleaf: true }, exists: true, keys: [] },
    { name: 'wildcard with skipAttrleaf: plain segments still match', segs: 'test/skydns/web/*', opts: { skipAttrleaf: true }, exists: true, keys: ['test/skydns/web/8e147811', 'test/skydns/web/d138cc96'] },
    { name: 'the root returns everything', segs: '', exists: true, keys: t.keys().map((k) => k.slice(P.length + 1)) },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(look(t, c.segs, c.opts), { exists: c.exists, keys: c.keys }));
  }

  test('an empty tree: nothing exists, not even the root', () => {
    assert.deepEqual(look(new RecordTree(), ''), { exists: false, keys: [] });
    assert.deepEqual(look(new RecordTree(), '*'), { exists: false, keys: [] });
  });

  test('bad values are returned as entries (the resolver skips them)', () => {
    const b = new RecordTree('skydns');
    b.put(`${P}/x/1`, 'nope');
    b.put(`${P}/x/2`, v('10.0.0.1'));
    const r = b.lookup(['x']);
    assert.equal(r.exists, true);
    assert.deepEqual(r.entries.map((e) => [e.key, e.svc === null]), [[`${P}/x/1`, true], [`${P}/x/2`, false]]);
  });

  test('isWildcard', () => {
    assert.equal(isWildcard('*'), true);
    assert.equal(isWildcard('any'), true);
    assert.equal(isWildcard('Any'), false);
    assert.equal(isWildcard('**'), false);
    assert.equal(isWildcard('anything'), false);
  });
});

describe('records are checked once, when they arrive', () => {
  const D = `${P}/local/cluster/svc/default`;
  const put = (key: string, value: unknown) => new RecordTree('skydns').put(key, typeof value === 'string' ? value : JSON.stringify(value))!;
  const cases: [string, string, unknown, RegExp | null][] = [
    ['an address', `${D}/a/1`, { host: '10.0.0.1', port: 80, priority: 10, weight: 10, ttl: 30 }, null],
    ['a name, with or without its final dot', `${D}/b/1`, { host: 'web.default.svc.cluster.local.' }, null],
    ['an SRV-style name with underscores', `${D}/c/1`, { host: '_http._tcp.web.default.svc.cluster.local' }, null],
    ['text only (dns-version)', `${P}/local/cluster/dns-version`, { text: '1.1.0', ttl: 30 }, null],
    ['the largest TTL RFC 2181 allows', `${D}/d/1`, { host: '10.0.0.1', ttl: 2147483647 }, null],
    ['port −1', `${D}/e/1`, { host: '10.0.0.1', port: -1 }, /port -1 is outside 0–65535/],
    ['port 70000', `${D}/e/2`, { host: '10.0.0.1', port: 70000 }, /port 70000 is outside 0–65535/],
    ['priority −5', `${D}/e/3`, { host: '10.0.0.1', priority: -5 }, /priority -5 is outside/],
    ['weight 65536', `${D}/e/4`, { host: '10.0.0.1', weight: 65536 }, /weight 65536 is outside/],
    ['TTL 4294967295', `${D}/e/5`, { host: '10.0.0.1', ttl: 4294967295 }, /ttl 4294967295 is above 2147483647/],
    ['a host with spaces and bangs', `${D}/f/1`, { host: 'not a host!!' }, /neither an IP address nor a valid name/],
    ['999.1.1.1', `${D}/f/2`, { host: '999.1.1.1' }, /neither an IP address nor a name/],
    ['1.2.3.4.5', `${D}/f/3`, { host: '1.2.3.4.5' }, /neither an IP address nor a name/],
    ['a label of 64 bytes', `${D}/f/4`, { host: `${'x'.repeat(64)}.example.com` }, /a label of 64 bytes; at most 63/],
    ['a host of 30 labels (over 253 bytes)', `${D}/f/5`, { host: Array.from({ length: 30 }, () => 'abcdefghi').join('.') }, /is 299 bytes long; a name has at most 253/],
    ['an empty label', `${D}/f/6`, { host: 'a..b' }, /has an empty label/],
    ['text of 1 MB', `${D}/g/1`, { text: 'x'.repeat(1_000_000) }, /text of 1000000 bytes is longer than 60000/],
    ['a key part of 64 bytes', `${D}/${'k'.repeat(64)}/1`, { host: '10.0.0.1' }, /the key has a part of 64 bytes/],
    ['a key making a name over 255 bytes', `${D}/${Array.from({ length: 30 }, () => 'abcdefgh').join('/')}`, { host: '10.0.0.1' }, /the key makes a name of \d+ bytes; a name has at most 255/],
  ];
  for (const [what, key, value, problem] of cases) {
    test(`${what}: ${problem ? 'rejected, naming the key and why' : 'accepted'}`, () => {
      const e = put(key, value);
      if (!problem) {
        assert.equal(e.error, null);
        assert.ok(e.svc);
        return;
      }
      assert.equal(e.svc, null);
      assert.ok(e.error!.startsWith(`bad record at ${key}: `), e.error!);
      assert.match(e.error!, problem);
    });
  }

  test('/skydns/config is configuration, not a record', () => {
    const e = put(`${P}/config`, { domain: 'cluster.local.', ttl: 30, nameservers: ['8.8.8.8:53'] });
    assert.equal(e.error, null);
  });
});
