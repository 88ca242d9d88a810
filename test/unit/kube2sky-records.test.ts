// kube2sky record generation: docs/kube2sky.md §2.8 worked examples byte for byte, and the extensions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podRecords, serviceRecords, versionRecords, ownedPrefixes, RecordOptions } from '../../lib/kube2sky/records.js';
import type { Endpoints, Service } from '../../lib/kube2sky/types.js';
import { hashLabel } from '../../lib/msg/record.js';

const LEGACY: RecordOptions = { domain: 'cluster.local.', legacy: true };
const MODERN: RecordOptions = { domain: 'cluster.local.', legacy: false };
const A = (ip: string) => `{"host":"${ip}","priority":10,"weight":10,"ttl":30,"targetstrip":0}`;
const SRV = (host: string, port: number) => `{"host":"${host}","port":${port},"priority":10,"weight":10,"ttl":30,"targetstrip":0}`;
const PTR = (host: string) => `{"host":"${host}","priority":10,"weight":10,"ttl":30,"targetstrip":0}`;
const obj = (m: Map<string, string>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

const kubernetes: Service = {
  metadata: { name: 'kubernetes', namespace: 'default' },
  spec: { clusterIP: '10.0.0.1', ports: [{ name: 'https', protocol: 'TCP', port: 443 }] },
};

test('(a) the kubernetes service, legacy: exactly the two keys kube2sky 1.14 wrote', () => {
  const g = serviceRecords(kubernetes, null, LEGACY);
  assert.deepEqual(g.problems, []);
  assert.deepEqual(obj(g.records), {
    '/skydns/local/cluster/svc/default/kubernetes/_tcp/_https/c88f1059': SRV('kubernetes.default.svc.cluster.local.', 443),
    '/skydns/local/cluster/svc/default/kubernetes/c88f1059': A('10.0.0.1'),
  });
  assert.equal(g.records.get('/skydns/local/cluster/svc/default/kubernetes/c88f1059'), '{"host":"10.0.0.1","priority":10,"weight":10,"ttl":30,"targetstrip":0}');
});

test('(a) with extensions: plus the PTR record', () => {
  const g = serviceRecords(kubernetes, null, MODERN);
  assert.deepEqual(obj(g.records), {
    '/skydns/arpa/in-addr/10/0/0/1': PTR('kubernetes.default.svc.cluster.local.'),
    '/skydns/local/cluster/svc/default/kubernetes/_tcp/_https/c88f1059': SRV('kubernetes.default.svc.cluster.local.', 443),
    '/skydns/local/cluster/svc/default/kubernetes/c88f1059': A('10.0.0.1'),
  });
});

test('(b) kube-dns with a UDP and a TCP port', () => {
  const svc: Service = {
    metadata: { name: 'kube-dns', namespace: 'kube-system' },
    spec: { clusterIP: '10.0.0.10', ports: [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns-tcp', protocol: 'TCP', port: 53 }] },
  };
  assert.deepEqual(obj(serviceRecords(svc, null, LEGACY).records), {
    '/skydns/local/cluster/svc/kube-system/kube-dns/21172049': A('10.0.0.10'),
    '/skydns/local/cluster/svc/kube-system/kube-dns/_tcp/_dns-tcp/21172049': SRV('kube-dns.kube-system.svc.cluster.local.', 53),
    '/skydns/local/cluster/svc/kube-system/kube-dns/_udp/_dns/21172049': SRV('kube-dns.kube-system.svc.cluster.local.', 53),
  });
});

const testservice: Service = { metadata: { name: 'testservice', namespace: 'default' }, spec: { clusterIP: 'None' } };
const testEndpoints: Endpoints = {
  metadata: { name: 'testservice', namespace: 'default' },
  subsets: [
    { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'http1', protocol: 'TCP', port: 80 }, { name: 'http2', protocol: 'TCP', port: 81 }] },
    { addresses: [{ ip: '10.0.0.3' }, { ip: '10.0.0.4' }], notReadyAddresses: [{ ip: '10.0.0.5' }], ports: [{ name: 'https', protocol: 'TCP', port: 443 }] },
  ],
};

test('(c) headless service with two subsets: the ten legacy keys', () => {
  const base = '/skydns/local/cluster/svc/default/testservice';
  const t = (l: string) => `${l}.testservice.default.svc.cluster.local.`;
  assert.deepEqual(obj(serviceRecords(testservice, testEndpoints, LEGACY).records), {
    [`${base}/2c92af47`]: A('10.0.0.3'),
    [`${base}/4e756cde`]: A('10.0.0.2'),
    [`${base}/790efe9c`]: A('10.0.0.4'),
    [`${base}/_tcp/_http1/4e756cde`]: SRV(t('4e756cde'), 80),
    [`${base}/_tcp/_http1/c88f1059`]: SRV(t('c88f1059'), 80),
    [`${base}/_tcp/_http2/4e756cde`]: SRV(t('4e756cde'), 81),
    [`${base}/_tcp/_http2/c88f1059`]: SRV(t('c88f1059'), 81),
    [`${base}/_tcp/_https/2c92af47`]: SRV(t('2c92af47'), 443),
    [`${base}/_tcp/_https/790efe9c`]: SRV(t('790efe9c'), 443),
    [`${base}/c88f1059`]: A('10.0.0.1'),
  });
});

test('headless: no endpoints → no records; publishNotReadyAddresses includes not-ready addresses (extension only)', () => {
  assert.equal(serviceRecords(testservice, null, LEGACY).records.size, 0);
  const pub: Service = { ...testservice, spec: { clusterIP: 'None', publishNotReadyAddresses: true } };
  const modern = serviceRecords(pub, testEndpoints, MODERN).records;
  assert.equal(modern.get('/skydns/local/cluster/svc/default/testservice/a7b3be2d'), undefined);
  const five = [...modern].filter(([, v]) => v === A('10.0.0.5'));
  assert.equal(five.length, 1);
  assert.equal(modern.get('/skydns/arpa/in-addr/10/0/0/5'), PTR(`${five[0][0].split('/').pop()}.testservice.default.svc.cluster.local.`));
  const legacy = serviceRecords(pub, testEndpoints, LEGACY).records;
  assert.equal([...legacy.values()].filter((v) => v === A('10.0.0.5')).length, 0);
});

test('(d) a pod', () => {
  const g = podRecords({ metadata: { name: 'p', namespace: 'default' }, status: { podIP: '1.2.3.4' } }, LEGACY);
  assert.deepEqual(obj(g.records), { '/skydns/local/cluster/pod/default/1-2-3-4/ad70cf0f': A('1.2.3.4') });
  assert.equal(podRecords({ metadata: { name: 'p', namespace: 'default' }, status: {} }, LEGACY).records.size, 0);
});

test('(e) hostnames-map annotation names the endpoint; the hostname field wins over it (extension)', () => {
  const bar: Service = { metadata: { name: 'bar', namespace: 'my-namespace' }, spec: { clusterIP: 'None' } };
  const ep: Endpoints = {
    metadata: { name: 'bar', namespace: 'my-namespace', annotations: { 'endpoints.beta.kubernetes.io/hostnames-map': '{"10.245.1.6":{"HostName":"my-webserver"}}' } },
    subsets: [{ addresses: [{ ip: '10.245.1.6' }], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }],
  };
  assert.deepEqual(obj(serviceRecords(bar, ep, LEGACY).records), {
    '/skydns/local/cluster/svc/my-namespace/bar/_tcp/_http/my-webserver': SRV('my-webserver.bar.my-namespace.svc.cluster.local.', 80),
    '/skydns/local/cluster/svc/my-namespace/bar/my-webserver': A('10.245.1.6'),
  });
  const withField: Endpoints = { ...ep, subsets: [{ addresses: [{ ip: '10.245.1.6', hostname: 'web-0' }], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }] };
  assert.ok(serviceRecords(bar, withField, MODERN).records.has('/skydns/local/cluster/svc/my-namespace/bar/web-0'));
  assert.ok(serviceRecords(bar, withField, LEGACY).records.has('/skydns/local/cluster/svc/my-namespace/bar/my-webserver'));
  // An invalid name falls back to the hash label.
  const bad: Endpoints = { ...ep, metadata: { ...ep.metadata, annotations: { 'endpoints.beta.kubernetes.io/hostnames-map': '{"10.245.1.6":{"HostName":"Not_Valid"}}' } } };
  const label = hashLabel(A('10.245.1.6'));
  assert.deepEqual(Object.keys(obj(serviceRecords(bar, bad, LEGACY).records)), [
    `/skydns/local/cluster/svc/my-namespace/bar/_tcp/_http/${label}`,
    `/skydns/local/cluster/svc/my-namespace/bar/${label}`,
  ]);
});

test('bad parts of objects are reported and skipped, the rest written', () => {
  const ep: Endpoints = {
    metadata: { name: 'h', namespace: 'default', annotations: { 'endpoints.beta.kubernetes.io/hostnames-map': '{not json' } },
    subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: 'banana' }], ports: [{ name: 'web', port: 80 }] }],
  };
  const g = serviceRecords({ metadata: { name: 'h', namespace: 'default' }, spec: { clusterIP: 'None' } }, ep, LEGACY);
  assert.deepEqual(obj(g.records), { '/skydns/local/cluster/svc/default/h/c88f1059': A('10.0.0.1') });
  const msgs = g.problems.map((p) => `${p.object}: ${p.message}`);
  assert.match(msgs[0], /^endpoints default\/h: annotation endpoints\.beta\.kubernetes\.io\/hostnames-map is not valid JSON \(.+\); using hash labels$/);
  assert.deepEqual(msgs.slice(1), [
    'endpoints default/h: port "web" has a name but no protocol; no SRV record for it',
    'endpoints default/h: address "banana" is not an IP address; skipped',
  ]);
  const badIP = serviceRecords({ metadata: { name: 'x', namespace: 'default' }, spec: { clusterIP: '10.0.0.300' } }, null, LEGACY);
  assert.equal(badIP.records.size, 0);
  assert.deepEqual(badIP.problems.map((p) => p.message), ['cluster IP "10.0.0.300" is not an IP address; skipped']);
});

test('unnamed ports get no SRV; UDP is lower-cased; multi-port', () => {
  const svc: Service = {
    metadata: { name: 'multi', namespace: 'ns1' },
    spec: { clusterIP: '10.0.0.2', ports: [{ port: 8080, protocol: 'TCP' }, { name: 'metrics', protocol: 'TCP', port: 9090 }, { name: 'syslog', protocol: 'UDP', port: 514 }] },
  };
  assert.deepEqual(Object.keys(obj(serviceRecords(svc, null, LEGACY).records)), [
    '/skydns/local/cluster/svc/ns1/multi/4e756cde',
    '/skydns/local/cluster/svc/ns1/multi/_tcp/_metrics/4e756cde',
    '/skydns/local/cluster/svc/ns1/multi/_udp/_syslog/4e756cde',
  ]);
});

test('IPv6 cluster IP and pod IP', () => {
  const svc: Service = { metadata: { name: 'v6', namespace: 'default' }, spec: { clusterIP: 'fd00::10', ports: [] } };
  const r = serviceRecords(svc, null, MODERN).records;
  const a = [...r].find(([k]) => k.startsWith('/skydns/local/cluster/svc/default/v6/'));
  assert.equal(a?.[1], A('fd00::10'));
  assert.equal(r.get('/skydns/arpa/ip6/f/d/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/1/0'), PTR('v6.default.svc.cluster.local.'));
  const p = podRecords({ metadata: { name: 'p', namespace: 'default' }, status: { podIP: 'fd00::1:2' } }, MODERN).records;
  assert.deepEqual([...p.keys()].map((k) => k.split('/').slice(0, -1).join('/')), ['/skydns/local/cluster/pod/default/fd00--1-2']);
});

test('ExternalName: one record at the service\'s own key, whose host is the external name (not in legacy mode)', () => {
  const svc: Service = { metadata: { name: 'db', namespace: 'prod' }, spec: { type: 'ExternalName', externalName: 'Db.Example.COM.', ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }] } };
  assert.deepEqual(obj(serviceRecords(svc, null, MODERN).records), {
    '/skydns/local/cluster/svc/prod/db': '{"host":"db.example.com.","priority":10,"weight":10,"ttl":30,"targetstrip":0}',
  });
  assert.equal(serviceRecords(svc, null, LEGACY).records.size, 0);
  // Not a DNS name: no record, a problem named.
  const bad = serviceRecords({ ...svc, spec: { type: 'ExternalName', externalName: '10.0.0.1' } }, null, MODERN);
  assert.equal(bad.records.size, 0);
  assert.match(bad.problems[0].message, /externalName "10.0.0.1" is not a DNS name/);
});

test('ExternalName ⇄ ClusterIP: one shape replaces the other, no key of the old shape is left wanted', () => {
  const ext: Service = { metadata: { name: 'web', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'www.example.com' } };
  const cip: Service = { metadata: { name: 'web', namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: '10.0.0.9', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] } };
  const e = [...serviceRecords(ext, null, MODERN).records.keys()];
  const c = [...serviceRecords(cip, null, MODERN).records.keys()].filter((k) => !k.startsWith('/skydns/arpa/'));
  assert.deepEqual(e, ['/skydns/local/cluster/svc/default/web']);
  assert.equal(c.length, 2, 'A and SRV');
  assert.ok(c.every((k) => k.startsWith('/skydns/local/cluster/svc/default/web/')), `ClusterIP records lie below the service key: ${c}`);
  assert.ok(!c.includes(e[0]));
});

test('dns-version TXT and owned prefixes', () => {
  assert.deepEqual(obj(versionRecords(MODERN)), { '/skydns/local/cluster/dns-version': '{"text":"1.1.0","ttl":30,"targetstrip":0}' });
  assert.equal(versionRecords(LEGACY).size, 0);
  assert.deepEqual(ownedPrefixes(LEGACY), ['/skydns/local/cluster/svc/', '/skydns/local/cluster/pod/']);
});

test('IPv4-mapped IPv6 addresses are written as their IPv4 address: pod label, A host, hash label, PTR key', () => {
  const mapped = podRecords({ metadata: { name: 'p', namespace: 'default' }, status: { podIP: '::ffff:10.244.7.7', podIPs: [{ ip: '::ffff:10.244.7.7' }, { ip: '10.244.7.7' }] } }, MODERN);
  assert.deepEqual(mapped.problems, []);
  assert.deepEqual(obj(mapped.records), { [`/skydns/local/cluster/pod/default/10-244-7-7/${hashLabel(A('10.244.7.7'))}`]: A('10.244.7.7') });
  // The hex spelling of the same address gives the same record.
  assert.deepEqual(obj(podRecords({ metadata: { name: 'p', namespace: 'default' }, status: { podIP: '::FFFF:af4:707' } }, LEGACY).records), obj(mapped.records));

  const svc: Service = { metadata: { name: 'm', namespace: 'default' }, spec: { clusterIP: '::ffff:10.0.0.77', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] } };
  const label = hashLabel(A('10.0.0.77'));
  assert.deepEqual(obj(serviceRecords(svc, null, MODERN).records), {
    '/skydns/arpa/in-addr/10/0/0/77': PTR('m.default.svc.cluster.local.'),
    [`/skydns/local/cluster/svc/default/m/_tcp/_http/${label}`]: SRV('m.default.svc.cluster.local.', 80),
    [`/skydns/local/cluster/svc/default/m/${label}`]: A('10.0.0.77'),
  });

  const headless: Service = { metadata: { name: 'h', namespace: 'default' }, spec: { clusterIP: 'None' } };
  const ep: Endpoints = {
    metadata: { name: 'h', namespace: 'default', annotations: { 'endpoints.beta.kubernetes.io/hostnames-map': '{"::ffff:10.1.2.3":{"HostName":"web-0"}}' } },
    subsets: [{ addresses: [{ ip: '::ffff:10.1.2.3' }, { ip: '::ffff:10.1.2.4' }], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }],
  };
  const h4 = hashLabel(A('10.1.2.4'));
  assert.deepEqual(obj(serviceRecords(headless, ep, MODERN).records), {
    '/skydns/arpa/in-addr/10/1/2/3': PTR('web-0.h.default.svc.cluster.local.'),
    '/skydns/arpa/in-addr/10/1/2/4': PTR(`${h4}.h.default.svc.cluster.local.`),
    [`/skydns/local/cluster/svc/default/h/${h4}`]: A('10.1.2.4'),
    [`/skydns/local/cluster/svc/default/h/_tcp/_http/${h4}`]: SRV(`${h4}.h.default.svc.cluster.local.`, 80),
    '/skydns/local/cluster/svc/default/h/_tcp/_http/web-0': SRV('web-0.h.default.svc.cluster.local.', 80),
    '/skydns/local/cluster/svc/default/h/web-0': A('10.1.2.3'),
  });
});

test('IPv6 addresses are written in one spelling (RFC 5952): no dot or upper case in a pod label', () => {
  const label = (ip: string) => [...podRecords({ metadata: { name: 'p', namespace: 'default' }, status: { podIP: ip } }, LEGACY).records.keys()].map((k) => k.split('/')[6]);
  assert.deepEqual(label('FD00:0:0:0:0:0:1:2'), ['fd00--1-2']);
  assert.deepEqual(label('fd00:0000::0001:0002'), ['fd00--1-2']);
  assert.deepEqual(label('::10.244.7.7'), ['--af4-707']);
  assert.deepEqual(label('2001:db8:0:1:0:0:0:1'), ['2001-db8-0-1--1']);
  assert.deepEqual(label('2001:db8:0:0:1:0:0:1'), ['2001-db8--1-0-0-1']);
  const svc: Service = { metadata: { name: 'v6', namespace: 'default' }, spec: { clusterIP: 'FD00::10', ports: [] } };
  assert.ok([...serviceRecords(svc, null, MODERN).records.values()].includes(A('fd00::10')));
});

test('a port name whose SRV label "_<name>" would pass 63 bytes (or is no DNS label) gets no SRV and a problem; the rest is written', () => {
  const long63 = 'p'.repeat(63);
  const long62 = 'q'.repeat(62);
  const svc: Service = {
    metadata: { name: 'wide', namespace: 'default' },
    spec: { clusterIP: '10.0.0.80', ports: [{ name: long63, protocol: 'TCP', port: 80 }, { name: long62, protocol: 'TCP', port: 81 }, { name: 'a.b', protocol: 'TCP', port: 82 }, { name: 'http', protocol: 'TCP', port: 83 }] },
  };
  const label = hashLabel(A('10.0.0.80'));
  const g = serviceRecords(svc, null, LEGACY);
  assert.deepEqual(obj(g.records), {
    [`/skydns/local/cluster/svc/default/wide/${label}`]: A('10.0.0.80'),
    [`/skydns/local/cluster/svc/default/wide/_tcp/_http/${label}`]: SRV('wide.default.svc.cluster.local.', 83),
    [`/skydns/local/cluster/svc/default/wide/_tcp/_${long62}/${label}`]: SRV('wide.default.svc.cluster.local.', 81),
  });
  assert.deepEqual(g.problems.map((p) => `${p.object}: ${p.message}`), [
    `service default/wide: port name "${long63}" is 63 characters: the SRV label "_${long63}" would be 64 bytes, over DNS's 63; no SRV record for it`,
    'service default/wide: port name "a.b" is not a DNS-1123 label; no SRV record for it',
  ]);
  // Headless: reported once per subset, not once per address.
  const ep: Endpoints = {
    metadata: { name: 'wide', namespace: 'default' },
    subsets: [{ addresses: [{ ip: '10.1.0.1' }, { ip: '10.1.0.2' }], ports: [{ name: long63, protocol: 'TCP', port: 80 }, { name: 'http', protocol: 'TCP', port: 83 }] }],
  };
  const h = serviceRecords({ metadata: { name: 'wide', namespace: 'default' }, spec: { clusterIP: 'None' } }, ep, LEGACY);
  assert.equal([...h.records.keys()].filter((k) => k.includes('/_tcp/_http/')).length, 2);
  assert.equal([...h.records.keys()].filter((k) => k.includes(long63)).length, 0);
  assert.deepEqual(h.problems.map((p) => `${p.object}: ${p.message}`), [
    `endpoints default/wide: port name "${long63}" is 63 characters: the SRV label "_${long63}" would be 64 bytes, over DNS's 63; no SRV record for it`,
  ]);
});
