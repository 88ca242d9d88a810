/**
 * lib/msg: the SkyDNS record (JSON bytes, FNV label, decoding) and the name ↔ key
 * mapping. Expected values come from the specs (docs/skydns.md §1.1–1.2, docs/kube2sky.md §2.2–2.4,
 * §2.10) and from Go's encoding/json and net.ParseIP behaviour.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SkyRecord,
  RecordDecodeError,
  SkyRecordFields,
  decodeRecord,
  emptyRecord,
  encodeRecord,
  fnv1a32,
  goJsonString,
  hashLabel,
} from '../../lib/msg/record.js';
import {
  addressFromReverse,
  fqdn,
  inZone,
  ipOctets,
  keyToName,
  labelCount,
  nameToKey,
  nameToSegments,
  octetsText,
  parseIP,
  parseIPv4,
  parseIPv6,
  reverseName,
  splitName,
} from '../../lib/msg/path.js';
import { rng } from '../harness/random.js';

// ---------------------------------------------------------------- encodeRecord

const A_VALUE = { host: '10.0.0.1', priority: 10, weight: 10, ttl: 30 };

test('encodeRecord: byte-exact Go json.Marshal output', async (t) => {
  const cases: Array<[string, SkyRecordFields, string]> = [
    ['kube2sky A value (docs/kube2sky.md §2.3)', A_VALUE, '{"host":"10.0.0.1","priority":10,"weight":10,"ttl":30,"targetstrip":0}'],
    [
      'kube2sky SRV value (docs/kube2sky.md §2.3)',
      { host: 'kubernetes.default.svc.cluster.local.', port: 443, priority: 10, weight: 10, ttl: 30 },
      '{"host":"kubernetes.default.svc.cluster.local.","port":443,"priority":10,"weight":10,"ttl":30,"targetstrip":0}',
    ],
    ['upstream log line value (PR #18539)', { host: '10.0.183.39', priority: 10, weight: 10, ttl: 30, targetstrip: 0 }, '{"host":"10.0.183.39","priority":10,"weight":10,"ttl":30,"targetstrip":0}'],
    ['empty record: only targetstrip is always present', {}, '{"targetstrip":0}'],
    [
      'zero values omitted (port 0, text "", mail false, ttl 0, group "")',
      { host: 'a', port: 0, priority: 0, weight: 0, text: '', mail: false, ttl: 0, targetstrip: 0, group: '' },
      '{"host":"a","targetstrip":0}',
    ],
    [
      'every field, in struct declaration order',
      { group: 'g', targetstrip: 5, ttl: 4, mail: true, text: 't', weight: 3, priority: 2, port: 1, host: 'h' },
      '{"host":"h","port":1,"priority":2,"weight":3,"text":"t","mail":true,"ttl":4,"targetstrip":5,"group":"g"}',
    ],
    ['negative int fields are written (Go int)', { port: -1, targetstrip: -2 }, '{"port":-1,"targetstrip":-2}'],
    ['fractional numbers truncated toward zero', { port: 80.9, ttl: 30.2 }, '{"port":80,"ttl":30,"targetstrip":0}'],
    ['HTML-safe escaping of < > &', { host: 'a<b>&c' }, '{"host":"a\\u003cb\\u003e\\u0026c","targetstrip":0}'],
    ['U+2028 and U+2029 escaped', { text: 'x\u2028y\u2029z' }, '{"text":"x\\u2028y\\u2029z","targetstrip":0}'],
    ['quote, backslash, \\n \\r \\t short escapes', { text: '"\\\n\r\t' }, '{"text":"\\"\\\\\\n\\r\\t","targetstrip":0}'],
    ['other control characters as \\u00xx (lower-case hex), \\b and \\f included', { text: '\x00\x01\x08\x0c\x1f' }, '{"text":"\\u0000\\u0001\\u0008\\u000c\\u001f","targetstrip":0}'],
    ['DEL, non-ASCII and astral characters are written raw', { text: '\x7fé€😀' }, '{"text":"\x7fé€😀","targetstrip":0}'],
    ['a lone surrogate becomes the escape \\ufffd (Go: invalid UTF-8)', { group: 'a\ud800b\udc00' }, '{"targetstrip":0,"group":"a\\ufffdb\\ufffd"}'],
    ['mail true written as literal true', { host: 'mx.example.', mail: true }, '{"host":"mx.example.","mail":true,"targetstrip":0}'],
  ];
  for (const [name, input, want] of cases) {
    await t.test(name, () => assert.equal(encodeRecord(input), want));
  }
});

test('goJsonString: string escaping table', () => {
  const cases: Array<[string, string]> = [
    ['', '""'],
    ['plain.name.', '"plain.name."'],
    ['<script>', '"\\u003cscript\\u003e"'],
    ['a&b', '"a\\u0026b"'],
    ['\u2028', '"\\u2028"'],
    ['\u2029', '"\\u2029"'],
    ['/', '"/"'], // Go does not escape the solidus
    ['\ud83d\ude00', '"\ud83d\ude00"'], // a valid surrogate pair is one character
    ['\udc00\ud800', '"\\ufffd\\ufffd"'], // reversed pair: two lone surrogates
  ];
  for (const [input, want] of cases) assert.equal(goJsonString(input), want, JSON.stringify(input));
});

test('encodeRecord output is valid JSON that decodes back to the same record', () => {
  const input: SkyRecordFields = { host: 'a<b>&\u2028', port: 53, priority: 1, weight: 2, text: 'x"y', mail: true, ttl: 7, targetstrip: 1, group: 'g' };
  const json = encodeRecord(input);
  const back = decodeRecord(json, '/skydns/x');
  const want: SkyRecord = { host: 'a<b>&\u2028', port: 53, priority: 1, weight: 2, text: 'x"y', mail: true, ttl: 7, targetstrip: 1, group: 'g', key: '/skydns/x' };
  assert.deepEqual(back, want);
  assert.equal(encodeRecord(back), json);
});

// ---------------------------------------------------------------- hashing

test('hashLabel: every row of the kube2sky hash table (docs/kube2sky.md §2.4)', async (t) => {
  const table: Array<[string, string]> = [
    ['10.0.0.1', 'c88f1059'],
    ['10.0.0.2', '4e756cde'],
    ['10.0.0.3', '2c92af47'],
    ['10.0.0.4', '790efe9c'],
    ['10.0.0.10', '21172049'],
    ['1.2.3.4', 'ad70cf0f'],
    ['4.3.2.1', '1f866247'],
    ['0.0.0.0', '431ba70b'],
    ['10.244.1.6', 'ad649af9'],
    ['10.0.183.39', 'e3b7df90'],
    ['127.0.0.1', '3c9e32e'],
  ];
  for (const [host, label] of table) {
    await t.test(`${host} → ${label}`, () => assert.equal(hashLabel(encodeRecord({ host, priority: 10, weight: 10, ttl: 30 })), label));
  }
});

test('fnv1a32: reference vectors, UTF-8 bytes, unsigned result', () => {
  const cases: Array<[string, number]> = [
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ];
  for (const [input, want] of cases) assert.equal(fnv1a32(input), want, input);
  // "é" is hashed as its two UTF-8 bytes c3 a9, not as one UTF-16 unit.
  let h = 0x811c9dc5;
  for (const b of [0xc3, 0xa9]) h = Number((BigInt(h ^ b) * 0x01000193n) & 0xffffffffn);
  assert.equal(fnv1a32('é'), h);
  assert.equal(hashLabel(''), '811c9dc5');
  assert.equal(hashLabel('a'), 'e40c292c');
});

// ---------------------------------------------------------------- decodeRecord

test('decodeRecord: field decoding', async (t) => {
  const key = '/skydns/local/cluster/svc/default/kubernetes/c88f1059';
  const cases: Array<[string, string, Partial<SkyRecord>]> = [
    ['kube2sky A value', '{"host":"10.0.0.1","priority":10,"weight":10,"ttl":30,"targetstrip":0}', { host: '10.0.0.1', priority: 10, weight: 10, ttl: 30 }],
    [
      'kube2sky SRV value',
      '{"host":"kubernetes.default.svc.cluster.local.","port":443,"priority":10,"weight":10,"ttl":30,"targetstrip":0}',
      { host: 'kubernetes.default.svc.cluster.local.', port: 443, priority: 10, weight: 10, ttl: 30 },
    ],
    ['empty object → zero record', '{}', {}],
    [
      'keys match case-insensitively',
      '{"HOST":"h","Port":80,"PRIORITY":1,"Weight":2,"TEXT":"t","Mail":true,"TTL":5,"TargetStrip":1,"GROUP":"g"}',
      { host: 'h', port: 80, priority: 1, weight: 2, text: 't', mail: true, ttl: 5, targetstrip: 1, group: 'g' },
    ],
    ['unknown keys ignored (including "key")', '{"host":"a","foo":[1,2],"key":"/evil","Type":"A","no-rec":true}', { host: 'a' }],
    ['null leaves a field at its zero value', '{"host":null,"port":null,"mail":null,"ttl":null,"text":null}', {}],
    ['last duplicate wins, whatever its case', '{"host":"a","HOST":"b"}', { host: 'b' }],
    ['ttl at the top of uint32', '{"ttl":4294967295}', { ttl: 4294967295 }],
    ['negative ints are fine for int fields', '{"port":-1,"priority":-5,"targetstrip":-1}', { port: -1, priority: -5, targetstrip: -1 }],
    ['whitespace around the JSON', ' \n{ "host" : "x" }\t', { host: 'x' }],
  ];
  for (const [name, value, fields] of cases) {
    await t.test(name, () => assert.deepEqual(decodeRecord(value, key), { ...emptyRecord(key), ...fields }));
  }
});

test('decodeRecord: errors name the etcd key and the field', async (t) => {
  const key = '/skydns/test/bad';
  const cases: Array<[string, string, string]> = [
    ['port as a string', '{"port":"80"}', 'field "port" is a JSON string, want a number'],
    ['ttl as a string (issue #204)', '{"ttl":"30"}', 'field "ttl" is a JSON string, want a number'],
    ['host as a number', '{"host":1}', 'field "host" is a JSON number, want a string'],
    ['mail as a string', '{"mail":"true"}', 'field "mail" is a JSON string, want a boolean'],
    ['group as an object', '{"group":{}}', 'field "group" is a JSON object, want a string'],
    ['text as an array', '{"text":["a"]}', 'field "text" is a JSON array, want a string'],
    ['weight as a boolean (key spelled as sent)', '{"WEIGHT":true}', 'field "WEIGHT" is a JSON boolean, want a number'],
    ['non-integer port', '{"port":80.5}', 'field "port" is 80.5, want an integer'],
    ['negative ttl (uint32)', '{"ttl":-1}', 'field "ttl" is -1, out of range 0..4294967295'],
    ['ttl above uint32', '{"ttl":4294967296}', 'field "ttl" is 4294967296, out of range 0..4294967295'],
    ['port beyond int64', '{"port":1e19}', 'field "port" is 10000000000000000000, out of range'],
    ['an array', '[]', 'value is a JSON array, want an object'],
    ['a string', '"10.0.0.1"', 'value is a JSON string, want an object'],
    ['null', 'null', 'value is a JSON null, want an object'],
    ['a number', '42', 'value is a JSON number, want an object'],
  ];
  for (const [name, value, detail] of cases) {
    await t.test(name, () => {
      assert.throws(
        () => decodeRecord(value, key),
        (err: unknown) => {
          assert.ok(err instanceof RecordDecodeError);
          assert.equal(err.name, 'RecordDecodeError');
          assert.equal(err.key, key);
          assert.equal(err.message, `bad record at ${key}: ${detail}`);
          return true;
        },
      );
    });
  }
  await t.test('invalid JSON', () => {
    assert.throws(
      () => decodeRecord('{"host":', key),
      (err: unknown) => err instanceof RecordDecodeError && err.key === key && err.message.startsWith(`bad record at ${key}: invalid JSON (`),
    );
  });
});

// ---------------------------------------------------------------- names and keys

test('nameToKey: SkyDNS msg.Path (TestPath and the specs)', () => {
  const cases: Array<[string, string | undefined, string]> = [
    ['service.staging.skydns.local.', undefined, '/skydns/local/skydns/staging/service'],
    ['service.staging.skydns.local.', 'mydns', '/mydns/local/skydns/staging/service'],
    ['service.staging.skydns.local', undefined, '/skydns/local/skydns/staging/service'],
    ['kubernetes.default.svc.cluster.local.', undefined, '/skydns/local/cluster/svc/default/kubernetes'],
    ['c88f1059._https._tcp.kubernetes.default.svc.cluster.local.', undefined, '/skydns/local/cluster/svc/default/kubernetes/_tcp/_https/c88f1059'],
    ['125.1.0.10.in-addr.arpa.', undefined, '/skydns/arpa/in-addr/10/0/1/125'],
    ['.', undefined, '/skydns'],
    ['', undefined, '/skydns'],
    ['.', 'mydns', '/mydns'],
    ['local.', undefined, '/skydns/local'],
    ['UPPER.Case.', undefined, '/skydns/Case/UPPER'], // no lower-casing here: callers pass the lower-cased name
    ['a\\.b.c.', undefined, '/skydns/c/a\\.b'], // escaped dot stays inside one segment
  ];
  for (const [name, prefix, want] of cases) assert.equal(prefix === undefined ? nameToKey(name) : nameToKey(name, prefix), want, `${name} (${prefix})`);
});

test('nameToSegments', () => {
  assert.deepEqual(nameToSegments('a.b.c.'), ['c', 'b', 'a']);
  assert.deepEqual(nameToSegments('.'), []);
  // Names without escapes take a path of their own: it cuts exactly as splitName does.
  for (const name of ['a.b.c', 'a..b.', '.a.b.', 'x', '', '..', 'svc1.ns1.svc.cluster.local.', '_http._tcp.web.ns.svc.cluster.local.', 'a\\.b.c.', 'a\\\\.b.']) {
    assert.deepEqual(nameToSegments(name), splitName(name).reverse(), name);
  }
  assert.deepEqual(nameToSegments('a\\.b.c.'), ['c', 'a\\.b']);
});

test('keyToName: SkyDNS msg.Domain', () => {
  const cases: Array<[string, string]> = [
    ['/skydns/test/skydns/region1/development/server1/104', '104.server1.development.region1.skydns.test.'],
    ['/skydns/local/skydns/staging/service', 'service.staging.skydns.local.'],
    ['/mydns/local/skydns/staging/service', 'service.staging.skydns.local.'],
    ['/skydns/local/cluster/svc/default/testservice/c88f1059', 'c88f1059.testservice.default.svc.cluster.local.'],
    ['/skydns', '.'],
    ['/skydns/', '.'],
    ['/skydns/local', 'local.'],
  ];
  for (const [key, want] of cases) assert.equal(keyToName(key), want, key);
  for (const name of ['a.b.c.', 'service.staging.skydns.local.', '1.0.0.127.in-addr.arpa.']) {
    assert.equal(keyToName(nameToKey(name)), name, `round trip ${name}`);
    assert.equal(keyToName(nameToKey(name, 'mydns')), name, `round trip ${name} (mydns)`);
  }
});

test('splitName: labels, escapes, root', () => {
  const cases: Array<[string, string[]]> = [
    ['a.b.c.', ['a', 'b', 'c']],
    ['a.b.c', ['a', 'b', 'c']],
    ['.', []],
    ['', []],
    ['a\\.b.c.', ['a\\.b', 'c']],
    ['a\\\\.b.', ['a\\\\', 'b']], // escaped backslash, then a real separator
    ['a..b.', ['a', 'b']],
    ['\\065bc.d.', ['\\065bc', 'd']],
  ];
  for (const [name, want] of cases) assert.deepEqual(splitName(name), want, name);
  assert.equal(labelCount('www.example.com.'), 3);
  assert.equal(labelCount('.'), 0);
  assert.equal(labelCount('a\\.b.c.'), 2);
});

test('fqdn', () => {
  const cases: Array<[string, string]> = [
    ['a', 'a.'],
    ['a.', 'a.'],
    ['a.b', 'a.b.'],
    ['', '.'],
    ['.', '.'],
    ['a\\.', 'a\\..'], // the trailing dot is escaped: not qualified yet
    ['a\\\\.', 'a\\\\.'], // escaped backslash, then a real final dot: already qualified
    ['a\\\\\\.', 'a\\\\\\..'], // escaped backslash and an escaped dot
  ];
  for (const [name, want] of cases) assert.equal(fqdn(name), want, name);
});

test('inZone', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a.cluster.local.', 'cluster.local.', true],
    ['cluster.local.', 'cluster.local.', true],
    ['x.y.cluster.local.', 'cluster.local.', true],
    ['local.', 'cluster.local.', false],
    ['endocode.com.', 'ndocode.com.', false], // issue #263/#264
    ['anything.', '.', true],
    ['.', '.', true],
    ['acluster.local.', 'cluster.local.', false],
  ];
  for (const [name, zone, want] of cases) assert.equal(inZone(name, zone), want, `${name} in ${zone}`);
});

// ---------------------------------------------------------------- addresses

const V6_DOC_REVERSE = 'b.a.9.8.7.6.5.0.' + '0.'.repeat(16) + '8.b.d.0.1.0.0.2.ip6.arpa.';

test('reverseName', () => {
  const cases: Array<[string, string | null]> = [
    ['10.0.1.125', '125.1.0.10.in-addr.arpa.'],
    ['127.0.0.1', '1.0.0.127.in-addr.arpa.'],
    ['0.0.0.0', '0.0.0.0.in-addr.arpa.'],
    ['2001:db8::567:89ab', V6_DOC_REVERSE],
    ['2001:DB8::567:89AB', V6_DOC_REVERSE],
    ['::1', '1.' + '0.'.repeat(31) + 'ip6.arpa.'],
    ['::', '0.'.repeat(32) + 'ip6.arpa.'],
    ['::ffff:10.0.0.1', '1.0.0.10.in-addr.arpa.'], // IPv4-mapped: Go's dns.ReverseAddr gives the v4 name
    ['example.com', null],
    ['10.0.0', null],
    ['', null],
  ];
  for (const [ip, want] of cases) assert.equal(reverseName(ip), want, ip);
});

test('parseIP: classification and bytes like Go net.ParseIP', async (t) => {
  const cases: Array<[string, 4 | 6 | null, number[] | null]> = [
    ['10.0.0.1', 4, [10, 0, 0, 1]],
    ['0.0.0.0', 4, [0, 0, 0, 0]],
    ['255.255.255.255', 4, [255, 255, 255, 255]],
    ['::ffff:10.0.0.1', 4, [10, 0, 0, 1]], // IPv4-mapped counts as IPv4
    ['::ffff:a00:1', 4, [10, 0, 0, 1]],
    ['0:0:0:0:0:FFFF:10.0.0.1', 4, [10, 0, 0, 1]],
    ['::1.2.3.4', 6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]], // IPv4-compatible is not mapped
    ['2001:db8::1', 6, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['::1', 6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['::', 6, new Array<number>(16).fill(0)],
    ['1:2:3:4:5:6:7:8', 6, [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
    ['::1:2:3:4:5:6:7', 6, [0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7]],
    ['1:2:3:4:5:6:7::', 6, [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]],
    ['1:2:3:4:5:6:1.2.3.4', 6, [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]],
    ['fe80::abcd', 6, [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd]],
    // invalid
    ['', null, null],
    ['example.com', null, null],
    ['kubernetes.default.svc.cluster.local.', null, null],
    ['10.0.0', null, null],
    ['10.0.0.1.', null, null],
    ['1.2.3.4.5', null, null],
    ['256.0.0.1', null, null],
    ['1.2.3.-4', null, null],
    [' 1.2.3.4', null, null],
    ['01.2.3.4', null, null], // leading zeros rejected (Go ≥ 1.17)
    ['10.0.0.01', null, null],
    ['10.00.0.1', null, null],
    ['1:2:3:4:5:6:7:8:9', null, null],
    ['1:2:3:4:5:6:7:8::', null, null], // '::' must stand for at least one group
    ['1::2::3', null, null],
    ['12345::', null, null],
    [':1::', null, null],
    ['1:2:3:4:5:6:7', null, null],
    ['fe80::1%eth0', null, null],
    ['1.2.3.4::', null, null], // dotted IPv4 only at the end
    ['1.2.3.4::1', null, null],
    ['::1.2.3.4:1', null, null],
    ['::ffff:1.2.3.256', null, null],
    ['g::1', null, null],
  ];
  for (const [input, family, bytes] of cases) {
    await t.test(JSON.stringify(input), () => {
      const got = parseIP(input);
      if (family === null) assert.equal(got, null);
      else assert.deepEqual(got, { family, bytes: Uint8Array.from(bytes ?? []) });
      // The record tree's form: the same bytes, one character each (its own IPv4 parser first).
      assert.equal(ipOctets(input), family === null ? null : String.fromCharCode(...(bytes ?? [])));
    });
  }
  assert.deepEqual(parseIPv4('1.2.3.4'), Uint8Array.from([1, 2, 3, 4]));
  assert.equal(parseIPv4('::1'), null);
  assert.equal(parseIPv6('1.2.3.4'), null);
  assert.deepEqual(parseIPv6('::ffff:1.2.3.4'), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]));
});

test('ipOctets and parseIPv4 agree with a reference dotted-quad parser on 20,000 near-IPv4 strings, and octetsText turns the octets back', () => {
  // The rules written the plain way (split, one pattern per part), as a reference.
  const reference = (s: string): number[] | null => {
    const parts = s.split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return null;
    return parts.map(Number);
  };
  const r = rng(4);
  const pieces = ['0', '1', '9', '10', '99', '100', '255', '256', '999', '1000', '00', '01', '007', '', '-1', ' 1', 'a', '1e1'];
  for (let k = 0; k < 20_000; k++) {
    const parts = Array.from({ length: 3 + Math.floor(r() * 3) }, () => pieces[Math.floor(r() * pieces.length)]);
    const s = parts.join(r() < 0.05 ? ':' : '.');
    const want = reference(s);
    assert.deepEqual(parseIPv4(s), want === null ? null : Uint8Array.from(want), JSON.stringify(s));
    // Anything else goes on to parseIP's IPv6 rules, whose own table is above.
    const ip = parseIP(s);
    assert.equal(ipOctets(s), want !== null ? String.fromCharCode(...want) : ip ? String.fromCharCode(...ip.bytes) : null, JSON.stringify(s));
  }
  assert.equal(octetsText(ipOctets('10.0.0.255')!), '10.0.0.255');
  assert.equal(octetsText(ipOctets('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  assert.equal(octetsText(ipOctets('::ffff:192.0.2.1')!), '192.0.2.1');
});

test('addressFromReverse', () => {
  const cases: Array<[string, string | null]> = [
    ['125.1.0.10.in-addr.arpa.', '10.0.1.125'],
    ['1.0.0.127.IN-ADDR.ARPA.', '127.0.0.1'],
    [V6_DOC_REVERSE, '2001:0db8:0000:0000:0000:0000:0567:89ab'],
    [V6_DOC_REVERSE.toUpperCase(), '2001:0db8:0000:0000:0000:0000:0567:89ab'],
    ['1.0.10.in-addr.arpa.', null], // three labels
    ['5.1.0.0.10.in-addr.arpa.', null],
    ['256.0.0.10.in-addr.arpa.', null],
    ['01.0.0.10.in-addr.arpa.', null],
    ['x.0.0.10.in-addr.arpa.', null],
    ['in-addr.arpa.', null],
    ['0.'.repeat(31) + 'ip6.arpa.', null], // 31 nibbles
    ['g.' + '0.'.repeat(31) + 'ip6.arpa.', null],
    ['10.' + '0.'.repeat(31) + 'ip6.arpa.', null],
    ['example.com.', null],
    ['125.1.0.10.in-addr.arpa', null], // not fully qualified
  ];
  for (const [name, want] of cases) assert.equal(addressFromReverse(name), want, name);
  for (const ip of ['10.0.1.125', '192.168.255.0']) {
    const r = reverseName(ip);
    assert.ok(r !== null);
    assert.equal(addressFromReverse(r), ip);
  }
  const r6 = addressFromReverse(reverseName('2001:db8::567:89ab') ?? '');
  assert.ok(r6 !== null);
  assert.deepEqual(parseIP(r6), parseIP('2001:db8::567:89ab'));
});
