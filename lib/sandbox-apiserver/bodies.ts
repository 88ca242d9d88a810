/** HTTP plumbing: bodies in, JSON and Status out. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { load } from 'js-yaml';
import { ApiError, type Status, badRequest, tooLarge, unsupportedMediaType } from './errors.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/** Decodes a POST/PUT body (JSON, or YAML with application/yaml). */
export function decodeObjectBody(contentType: string | undefined, raw: Buffer): unknown {
  const mt = mediaType(contentType);
  const text = raw.toString('utf8');
  if (mt === '' || mt === 'application/json' || mt === '*/*') return parseJson(text);
  if (mt === 'application/yaml' || mt === 'application/x-yaml' || mt === 'text/yaml') {
    try {
      return load(text);
    } catch (err) {
      throw badRequest(`the body of the request could not be decoded as YAML: ${(err as Error).message}`);
    }
  }
  throw unsupportedMediaType(['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
}

export function parseJson(text: string): unknown {
  if (text.trim() === '') throw badRequest('the body of the request was empty');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`the body of the request could not be parsed as JSON: ${(err as Error).message}`);
  }
}

export interface Responder {
  json(code: number, body: unknown, headers?: Record<string, string>): void;
  status(err: ApiError | Status): void;
  text(code: number, body: string): void;
}

/** Pretty-print like the real server: ?pretty=true, or a curl/Wget user agent. */
export function wantsPretty(req: IncomingMessage, query: URLSearchParams): boolean {
  const p = query.get('pretty');
  if (p !== null) return p !== '0' && p !== 'false';
  const ua = req.headers['user-agent'] ?? '';
  return ua.startsWith('curl') || ua.startsWith('Wget');
}

export function responder(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Responder {
  const pretty = wantsPretty(req, query);
  const json = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = (pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body)) + '\n';
    res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  return {
    json,
    status: (e) => {
      const s = e instanceof ApiError ? e.status : e;
      json(s.code, s);
    },
    text: (code, body) => {
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    },
  };
}
