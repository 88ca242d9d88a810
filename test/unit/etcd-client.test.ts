// lib/etcd/client.ts: endpoint URLs → gRPC hosts, and etcd errors as one log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdConfigError, etcdErrorText, etcdHosts } from '../../lib/etcd/client.js';

test('etcdHosts: the legacy -machines / --etcd-server URLs', () => {
  assert.deepEqual(etcdHosts(['http://127.0.0.1:4001']), { hosts: ['http://127.0.0.1:4001'], tls: false });
  assert.deepEqual(etcdHosts(['https://10.0.0.5:2379', 'https://10.0.0.6']), { hosts: ['https://10.0.0.5:2379', 'https://10.0.0.6:443'], tls: true });
  assert.deepEqual(etcdHosts(['http://etcd']), { hosts: ['http://etcd:80'], tls: false });
  for (const [urls, msg] of [
    [[], 'no etcd endpoint given'],
    [['127.0.0.1:4001'], 'etcd endpoint "127.0.0.1:4001" is not a URL (write http://host:port or https://host:port)'],
    [['localhost:4001'], 'etcd endpoint "localhost:4001": scheme must be http or https (write http://host:port or https://host:port)'],
    [['http://a:1', 'https://b:2'], 'etcd endpoints mix http and https'],
  ] as const) {
    assert.throws(() => etcdHosts([...urls]), (e: unknown) => e instanceof EtcdConfigError && e.message === msg, String(urls));
  }
});

test('etcdErrorText: gRPC connection errors on one line, without the empty resolution note', () => {
  const grpc = new Error(
    '14 UNAVAILABLE: No connection established. Last error: 809C026CE87F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-12-02T01:16:38.973Z). Resolution note: ',
  );
  assert.equal(
    etcdErrorText(grpc),
    '14 UNAVAILABLE: No connection established. Last error: 809C026CE87F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42 (2026-12-02T01:16:38.973Z)',
  );
  assert.equal(etcdErrorText(new Error('14 UNAVAILABLE: x. Resolution note: try DNS')), '14 UNAVAILABLE: x. Resolution note: try DNS');
  assert.equal(etcdErrorText(new Error('key not found (/skydns/config)')), 'key not found (/skydns/config)');
  assert.equal(etcdErrorText('plain string'), 'plain string');
});
