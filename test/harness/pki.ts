// A throw-away certificate authority for TLS tests, made with the real openssl
// command: a CA, a server certificate for 127.0.0.1 and client certificates.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface Pki {
  dir: string;
  caFile: string;
  server: { certFile: string; keyFile: string };
  client: { certFile: string; keyFile: string };
  /** A client certificate from another CA, which the server must refuse. */
  stranger: { certFile: string; keyFile: string };
  remove(): Promise<void>;
}

function openssl(cwd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')}: ${err.message}\n${stderr} (is openssl installed? run: node scripts/ensure.mjs --tests)`));
      else resolve();
    });
  });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function selfSignedCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`]);
}

async function issue(dir: string, ca: string, name: string, cn: string, ext: string): Promise<{ certFile: string; keyFile: string }> {
  await openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  await fs.writeFile(path.join(dir, `${name}.ext`), ext);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  return { certFile: path.join(dir, `${name}.pem`), keyFile: path.join(dir, `${name}.key`) };
}

export async function makePki(): Promise<Pki> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kube-dns-pki-'));
  try {
    await selfSignedCa(dir, 'ca', 'kube-dns test CA');
    await selfSignedCa(dir, 'other-ca', 'another CA');
    const server = await issue(dir, 'ca', 'server', 'etcd', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
    const client = await issue(dir, 'ca', 'client', 'kube-dns', 'extendedKeyUsage=clientAuth\n');
    const stranger = await issue(dir, 'other-ca', 'stranger', 'kube-dns', 'extendedKeyUsage=clientAuth\n');
    return { dir, caFile: path.join(dir, 'ca.pem'), server, client, stranger, remove: () => fs.rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}
