// Run the real `dig` / `nslookup` (bind9-dnsutils) against a server under test
// and parse dig's default output. Loopback only.

import { execFile } from 'node:child_process';

export interface DigRR {
  /** Owner name as printed (absolute, with trailing dot). */
  name: string;
  ttl: number;
  class: string;
  type: string;
  /** Everything after the type column, whitespace-normalised (runs of whitespace outside quotes → one space). */
  data: string;
}

export interface DigResult {
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR, NOTIMP, ... or TIMEOUT when no server answered. */
  status: string;
  /** Header flags, e.g. ['qr','aa','rd','ra']. Empty on TIMEOUT. */
  flags: string[];
  /** Message id from the header (-1 on TIMEOUT). */
  id: number;
  question: Array<{ name: string; class: string; type: string }>;
  answer: DigRR[];
  authority: DigRR[];
  additional: DigRR[];
  /** dig's full stdout (plus stderr, if any). */
  raw: string;
}

export interface DigArgs {
  /** Server address, default 127.0.0.1. */
  server?: string;
  port: number;
  name: string;
  /** RR type, default A. */
  type?: string;
  /** Query over TCP (+tcp). */
  tcp?: boolean;
  /** Extra dig arguments, appended last (e.g. ['+norecurse', '+bufsize=512']). */
  extra?: string[];
}

function digArgv(a: DigArgs, more: string[] = []): string[] {
  return [
    `@${a.server ?? '127.0.0.1'}`,
    '-p', String(a.port),
    a.name,
    a.type ?? 'A',
    '+tries=1',
    '+time=2',
    ...(a.tcp ? ['+tcp'] : []),
    ...more,
    ...(a.extra ?? []),
  ];
}

interface ExecOut {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<ExecOut> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        if (typeof e.code === 'number' && !e.killed) {
          resolve({ code: e.code, stdout, stderr });
          return;
        }
        reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
        return;
      }
      resolve({ code: 0, stdout, stderr });
    });
  });
}

/** Collapse whitespace runs outside double-quoted strings to one space; trim. */
function normaliseData(s: string): string {
  let out = '';
  let inQuote = false;
  let pendingSpace = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (inQuote) {
      out += c;
      if (c === '\\' && i + 1 < s.length) {
        out += s[++i] as string;
      } else if (c === '"') {
        inQuote = false;
      }
      continue;
    }
    if (c === ' ' || c === '\t') {
      pendingSpace = true;
      continue;
    }
    if (pendingSpace && out !== '') out += ' ';
    pendingSpace = false;
    out += c;
    if (c === '"') inQuote = true;
  }
  return out;
}

const RR_RE = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/;

function parseRR(line: string): DigRR {
  const m = RR_RE.exec(line);
  if (!m) throw new Error(`cannot parse dig RR line: ${JSON.stringify(line)}`);
  return {
    name: m[1] as string,
    ttl: Number(m[2]),
    class: m[3] as string,
    type: m[4] as string,
    data: normaliseData(m[5] ?? ''),
  };
}

/** Parse dig's default (non +short) output. Exported for reuse/testing. */
export function parseDigOutput(raw: string): DigResult {
  // If dig printed several responses (e.g. a retry), parse the last one.
  const headerIdx = raw.lastIndexOf(';; ->>HEADER<<-');
  if (headerIdx < 0) {
    if (/no servers could be reached|connection timed out|timed out/.test(raw)) {
      return { status: 'TIMEOUT', flags: [], id: -1, question: [], answer: [], authority: [], additional: [], raw };
    }
    throw new Error(`cannot parse dig output (no header):\n${raw}`);
  }
  const body = raw.slice(headerIdx);
  const header = /^;; ->>HEADER<<- opcode: (\S+), status: (\S+), id: (\d+)/m.exec(body);
  if (!header) throw new Error(`cannot parse dig header:\n${raw}`);
  const flagsM = /^;; flags:([^;]*);/m.exec(body);
  const flags = flagsM ? (flagsM[1] as string).trim().split(/\s+/).filter((f) => f !== '') : [];

  const result: DigResult = {
    status: header[2] as string,
    flags,
    id: Number(header[3]),
    question: [],
    answer: [],
    authority: [],
    additional: [],
    raw,
  };

  let section: 'question' | 'answer' | 'authority' | 'additional' | 'other' = 'other';
  for (const rawLine of body.split('\n')) {
    const line = rawLine.replace(/\s+$/, '');
    if (line === '') continue;
    const sec = /^;; ([A-Z ]+) (?:SECTION|PSEUDOSECTION):$/.exec(line);
    if (sec) {
      switch (sec[1]) {
        case 'QUESTION': section = 'question'; break;
        case 'ANSWER': section = 'answer'; break;
        case 'AUTHORITY': section = 'authority'; break;
        case 'ADDITIONAL': section = 'additional'; break;
        default: section = 'other'; // OPT PSEUDOSECTION etc.
      }
      continue;
    }
    if (line.startsWith(';;')) {
      section = 'other'; // trailer (";; Query time: ...") or other dig comment
      continue;
    }
    if (section === 'question') {
      const q = /^;(\S+)\s+(\S+)\s+(\S+)$/.exec(line);
      if (q) result.question.push({ name: q[1] as string, class: q[2] as string, type: q[3] as string });
      continue;
    }
    if (section === 'other' || line.startsWith(';')) continue;
    result[section].push(parseRR(line));
  }
  return result;
}

/**
 * `dig @server -p port name type +tries=1 +time=2 [+tcp] [extra...]`, parsed.
 * No answer within dig's timeout resolves with status 'TIMEOUT' (also used
 * for "connection refused" over TCP — i.e. whenever dig reports
 * "no servers could be reached").
 */
export async function dig(args: DigArgs): Promise<DigResult> {
  const argv = digArgv(args);
  const out = await run('dig', argv, 30000);
  const raw = out.stdout + (out.stderr ? out.stderr : '');
  try {
    return parseDigOutput(raw);
  } catch (err) {
    throw new Error(`dig ${argv.join(' ')} (exit ${out.code}): ${(err as Error).message}`);
  }
}

/**
 * `dig ... +short`: the answer data lines (trimmed, empty lines dropped).
 * Returns [] for an empty answer; throws if no server could be reached.
 */
export async function digShort(args: DigArgs): Promise<string[]> {
  const argv = digArgv(args, ['+short']);
  const out = await run('dig', argv, 30000);
  const lines = out.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (out.code !== 0 || lines.some((l) => l.startsWith(';;'))) {
    const joined = out.stdout + out.stderr;
    if (/no servers could be reached|timed out/.test(joined)) {
      throw new Error(`dig ${argv.join(' ')}: TIMEOUT\n${joined}`);
    }
    if (out.code !== 0) throw new Error(`dig ${argv.join(' ')} exited ${out.code}:\n${joined}`);
  }
  return lines.filter((l) => !l.startsWith(';;'));
}

/** Real `nslookup -port=PORT name server`; resolves with exit code and stdout+stderr. */
export async function nslookup(name: string, server: string, port: number): Promise<{ code: number; output: string }> {
  const out = await run('nslookup', [`-port=${port}`, name, server], 60000);
  return { code: out.code, output: out.stdout + out.stderr };
}
