/**
 * Bearer-token authentication of the sandbox API server. Off on loopback, as before (the
 * tests and the local stack rely on it); on with --allow-external, where anyone on the
 * network could otherwise read and change the cluster and use the /sandbox/ hooks, and
 * whenever a token is given.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A token as an Authorization header can carry it (RFC 6750 b64token). */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Paths served without a token: what kube-apiserver's system:public-info-viewer role gives
 * unauthenticated clients. They show no objects, and container health checks reach them
 * without the secret.
 */
export function isPublicPath(pathname: string): boolean {
  const p = pathname.replace(/\/+$/, '') || '/';
  return p === '/version' || /^\/(healthz|livez|readyz)(\/[a-z-]+)?$/.test(p);
}

/** 32 crypto-random bytes, base64url (43 characters). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

export function checkToken(token: string, source: string): string {
  if (token === '') throw new Error(`${source}: the token is empty`);
  if (!TOKEN.test(token)) throw new Error(`${source}: the token must be one word of A-Z a-z 0-9 - . _ ~ + / (and = padding at the end)`);
  return token;
}

/**
 * The token in `file` (its first line, trimmed), or — if the file does not exist — a new
 * one written there (mode 0600), so a restarted server keeps the token its clients hold.
 */
export function tokenFromFile(file: string): { token: string; created: boolean } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`--token-file ${file}: ${(err as Error).message}`);
    const token = generateToken();
    try {
      fs.writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
    } catch (werr) {
      throw new Error(`--token-file ${file}: cannot create it: ${(werr as Error).message}`);
    }
    return { token, created: true };
  }
  return { token: checkToken(text.split('\n')[0].trim(), `--token-file ${file}`), created: false };
}

/** Checks Authorization headers against one token, in constant time. */
export class BearerAuth {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(checkToken(token, 'token'));
  }

  allows(header: string | undefined): boolean {
    const m = /^bearer +(\S+) *$/i.exec(header ?? '');
    // Digests of equal length: the comparison time says nothing about the token.
    return m !== null && timingSafeEqual(sha256(m[1]), this.digest);
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export interface KubeconfigOptions {
  /** Bearer token of the user. */
  token?: string;
  /** CA certificate (PEM) that signs the server's. */
  caPem?: string;
  /** Trust any server certificate (client-node needs it even for a plain http:// server). */
  skipTlsVerify?: boolean;
  namespace?: string;
}

/** A kubeconfig for kubectl and client-node: the server's URL and, if given, CA, token and namespace. */
export function kubeconfigYaml(server: string, opts: KubeconfigOptions = {}): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sandbox',
    '  cluster:',
    `    server: ${server}`,
    ...(opts.caPem ? [`    certificate-authority-data: ${Buffer.from(opts.caPem).toString('base64')}`] : []),
    ...(opts.skipTlsVerify ? ['    insecure-skip-tls-verify: true'] : []),
    'users:',
    '- name: sandbox',
    opts.token ? `  user:\n    token: ${opts.token}` : '  user: {}',
    'contexts:',
    '- name: sandbox',
    '  context:',
    '    cluster: sandbox',
    '    user: sandbox',
    `    namespace: ${opts.namespace ?? 'default'}`,
    'current-context: sandbox',
    '',
  ].join('\n');
}

/** Writes `text` to `file` (mode 0600) through a temporary file and a rename: a reader never sees half of it. */
export function writeSecretFile(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}
