// The sandbox API server's self-signed certificate (lib/sandbox-apiserver/tls.ts) is valid DER every
// time: each one is parsed by OpenSSL (node:crypto's X509Certificate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { selfSignedCert } from '../../lib/sandbox-apiserver/tls.js';

test('self-signed certificates always parse: a positive, minimally encoded serial (1,500 of them)', () => {
  // With the needless leading 00 of old, about 1 in 256 failed: all 1,500 passing by chance was ~0.3 %.
  for (let i = 0; i < 1500; i++) {
    const { certPem } = selfSignedCert(['localhost', '127.0.0.1']);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch (err) {
      assert.fail(`certificate ${i} does not parse: ${(err as Error).message}`);
    }
    assert.match(cert.serialNumber, /^[4-7][0-9A-F]{31}$/, `certificate ${i}: serial ${cert.serialNumber}`);
  }
});
