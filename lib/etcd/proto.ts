/**
 * The few etcd v3 protobuf messages skydns's watch stream reads and writes
 * (etcdserverpb.WatchRequest/WatchResponse, mvccpb.Event/KeyValue,
 * etcdserverpb.AuthenticateRequest/AuthenticateResponse), coded by hand.
 *
 * Decoding goes straight from the message's bytes to the calls a watcher
 * makes (`WatchSink`): no message objects, no 64-bit integer objects. Field
 * numbers are etcd's (api/etcdserverpb/rpc.proto and api/mvccpb/kv.proto of
 * etcd 3.4, the same files etcd3's node_modules/etcd3/proto holds); fields
 * this reader does not use are skipped by their wire type, so a newer etcd
 * that adds fields is still read. test/unit/etcd-proto.test.ts checks every
 * field against protobufjs reading and writing the same .proto files.
 */

export class ProtoError extends Error {}

/** What a watch response says, in its order: events first, then the response itself. */
export interface WatchSink {
  /** One event: a put (with its value and lease, "0" for none) or a delete (value ""). */
  event(put: boolean, key: string, value: string, lease: string, modRevision: number): void;
}

/** A WatchResponse's fields other than its events. */
export interface WatchResponseInfo {
  /** The header's revision, as a decimal string ("0" when absent). */
  revision: string;
  /** The watch's ID as a signed decimal string ("-1" when etcd could not create it). */
  watchId: string;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  fragment: boolean;
  events: number;
}

/**
 * Reads protobuf's wire format from one byte range. `end` is the end of the
 * message being read: a nested message narrows it (`enter`/`leave`), so that no
 * field can run past the message that holds it.
 */
class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    public end: number,
  ) {
    this.pos = start;
  }

  /** Narrows the range to a nested message ending at `end`; returns the outer end for `leave`. */
  enter(end: number): number {
    const outer = this.end;
    this.end = end;
    return outer;
  }

  /** Back to the outer message, once the nested one has been read exactly to its end. */
  leave(outer: number): void {
    if (this.pos !== this.end) throw new ProtoError('a nested message ends inside a field');
    this.end = outer;
  }

  /** A varint below 2^53 (revisions, lengths, tags, booleans, enums). */
  uint(): number {
    const b = this.buf;
    let x = 0;
    let mul = 1;
    for (let n = 0; n < 8; n++) {
      if (this.pos >= this.end) throw new ProtoError('message ends inside a varint');
      const c = b[this.pos++];
      x += (c & 0x7f) * mul;
      if (c < 0x80) {
        if (x > Number.MAX_SAFE_INTEGER) break;
        return x;
      }
      mul *= 128;
    }
    throw new ProtoError('varint of 2^53 or more where a revision, length or flag was expected');
  }

  /** An int64 varint as the signed decimal string etcd3 gives (longs: String): lease and watch IDs. */
  int64(): string {
    const start = this.pos;
    const b = this.buf;
    let x = 0;
    let mul = 1;
    for (let n = 0; n < 7; n++) {
      if (this.pos >= this.end) throw new ProtoError('message ends inside a varint');
      const c = b[this.pos++];
      x += (c & 0x7f) * mul;
      if (c < 0x80) return String(x);
      mul *= 128;
    }
    // Eight bytes or more: past 2^49, exact through BigInt (lease IDs often are; negative ones take ten).
    this.pos = start;
    let big = 0n;
    let shift = 0n;
    for (let n = 0; n < 10; n++) {
      if (this.pos >= this.end) throw new ProtoError('message ends inside a varint');
      const c = b[this.pos++];
      big |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) return BigInt.asIntN(64, big).toString();
      shift += 7n;
    }
    throw new ProtoError('varint longer than 10 bytes');
  }

  /** The end of a length-delimited field that starts here (its length read). */
  lengthEnd(): number {
    const len = this.uint();
    const e = this.pos + len;
    if (e > this.end) throw new ProtoError(`a field of ${len} bytes runs past its message`);
    return e;
  }

  /** Skips a field of this wire type. */
  skip(wire: number): void {
    switch (wire) {
      case 0:
        while (this.pos < this.end && this.buf[this.pos] >= 0x80) this.pos++;
        this.pos++;
        break;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.lengthEnd();
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new ProtoError(`wire type ${wire} is not used by etcd's messages`);
    }
    if (this.pos > this.end) throw new ProtoError('a field runs past its message');
  }
}

/**
 * mvccpb.KeyValue: key 1, create_revision 2, mod_revision 3, version 4,
 * value 5, lease 6. With no sink, only checked (no strings made).
 */
function readKeyValue(r: Reader, put: boolean, sink: WatchSink | null): void {
  const b = r.buf;
  let key = '';
  let value = '';
  let lease = '0';
  let modRevision = 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if ((field === 1 || field === 5) && wire === 2) {
      const e = r.lengthEnd();
      if (sink) {
        if (field === 1) key = b.toString('utf8', r.pos, e);
        else value = b.toString('utf8', r.pos, e);
      }
      r.pos = e;
    } else if (field === 3 && wire === 0) {
      modRevision = r.uint();
    } else if (field === 6 && wire === 0) {
      lease = r.int64();
    } else {
      r.skip(wire);
    }
  }
  sink?.event(put, key, put ? value : '', lease, modRevision);
}

/** mvccpb.Event: type 1 (PUT 0, DELETE 1), kv 2, prev_kv 3. */
function readEvent(r: Reader, sink: WatchSink | null): void {
  let type = 0;
  let kvStart = -1;
  let kvEnd = -1;
  while (r.pos < r.end) {
    const tag = r.uint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) {
      type = r.uint();
    } else if (field === 2 && wire === 2) {
      kvEnd = r.lengthEnd();
      kvStart = r.pos;
      r.pos = kvEnd;
    } else {
      r.skip(wire);
    }
  }
  if (type !== 0 && type !== 1) throw new ProtoError(`event type ${type} is neither PUT nor DELETE`);
  if (kvStart < 0) throw new ProtoError('an event without its key-value');
  const after = r.pos;
  r.pos = kvStart;
  const outer = r.enter(kvEnd);
  readKeyValue(r, type === 0, sink);
  r.leave(outer);
  r.pos = after;
}

/** etcdserverpb.ResponseHeader's revision (field 3). */
function readHeaderRevision(r: Reader): string {
  let revision = '0';
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === ((3 << 3) | 0)) revision = String(r.uint());
    else r.skip(tag & 7);
  }
  return revision;
}

function readResponse(r: Reader, sink: WatchSink | null): WatchResponseInfo {
  const buf = r.buf;
  const info: WatchResponseInfo = { revision: '0', watchId: '0', created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: 0 };
  while (r.pos < r.end) {
    const tag = r.uint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 11 && wire === 2) {
      const outer = r.enter(r.lengthEnd());
      readEvent(r, sink);
      r.leave(outer);
      info.events++;
    } else if (field === 1 && wire === 2) {
      const outer = r.enter(r.lengthEnd());
      info.revision = readHeaderRevision(r);
      r.leave(outer);
    } else if (field === 2 && wire === 0) {
      info.watchId = r.int64(); // -1 when etcd could not create the watch
    } else if (wire === 0 && field >= 3 && field <= 7) {
      const v = r.uint();
      if (field === 3) info.created = v !== 0;
      else if (field === 4) info.canceled = v !== 0;
      else if (field === 5) info.compactRevision = v;
      else if (field === 7) info.fragment = v !== 0;
    } else if (field === 6 && wire === 2) {
      const e = r.lengthEnd();
      if (sink) info.cancelReason = buf.toString('utf8', r.pos, e);
      r.pos = e;
    } else {
      r.skip(wire);
    }
  }
  return info;
}

/**
 * etcdserverpb.WatchResponse: header 1, watch_id 2, created 3, canceled 4,
 * compact_revision 5, cancel_reason 6, fragment 7, events 11. The message is
 * checked whole first, so that a broken one is refused before any of its
 * events reaches `sink`; then each event goes to `sink` as it is read, and the
 * rest comes back.
 */
export function readWatchResponse(buf: Buffer, start: number, end: number, sink: WatchSink): WatchResponseInfo {
  readResponse(new Reader(buf, start, end), null);
  return readResponse(new Reader(buf, start, end), sink);
}

/** etcdserverpb.AuthenticateResponse's token (field 2). */
export function readAuthenticateResponse(buf: Buffer): string {
  const r = new Reader(buf, 0, buf.length);
  let token = '';
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === ((2 << 3) | 2)) {
      const e = r.lengthEnd();
      token = buf.toString('utf8', r.pos, e);
      r.pos = e;
    } else {
      r.skip(tag & 7);
    }
  }
  return token;
}

/** Writes protobuf's wire format. */
class Writer {
  private readonly bytes: number[] = [];
  private readonly parts: Buffer[] = [];

  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.bytes.push(Number(x));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  lengthDelimited(field: number, data: Buffer): this {
    this.tag(field, 2).varint(data.length);
    this.flush();
    this.parts.push(data);
    return this;
  }

  private flush(): void {
    if (this.bytes.length) this.parts.push(Buffer.from(this.bytes.splice(0)));
  }

  finish(): Buffer {
    this.flush();
    return Buffer.concat(this.parts);
  }
}

/**
 * etcdserverpb.WatchRequest{create_request 1: WatchCreateRequest{key 1,
 * range_end 2, start_revision 3, progress_notify 4}}: a watch of
 * [key, rangeEnd) from a revision, with etcd's periodic word of the revision
 * it has reached when nothing changes (so a quiet watch resumes from there).
 */
export function watchCreateRequest(key: Buffer, rangeEnd: Buffer, startRevision: number): Buffer {
  const create = new Writer().lengthDelimited(1, key).lengthDelimited(2, rangeEnd);
  if (startRevision > 0) create.tag(3, 0).varint(startRevision);
  create.tag(4, 0).varint(1);
  return new Writer().lengthDelimited(1, create.finish()).finish();
}

/** etcdserverpb.AuthenticateRequest{name 1, password 2}. */
export function authenticateRequest(name: string, password: string): Buffer {
  return new Writer().lengthDelimited(1, Buffer.from(name)).lengthDelimited(2, Buffer.from(password)).finish();
}

/** A gRPC message on the wire: an uncompressed flag, the length (big-endian), the bytes. */
export function grpcFrame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/**
 * Splits a gRPC response stream into messages: chunks in, each whole message
 * handed to `onMessage` as a range of a buffer (valid during the call only).
 */
export class GrpcDeframer {
  private chunks: Buffer[] = [];
  private have = 0;
  /** The length of the message being gathered, once its 5-byte header is in (-1 before). */
  private need = -1;

  constructor(
    private readonly onMessage: (buf: Buffer, start: number, end: number) => void,
    private readonly maxBytes = 256 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    if (this.have === 0) {
      // The common case: whole messages in this chunk, read where they lie.
      let at = 0;
      while (chunk.length - at >= 5) {
        const len = this.length(chunk, at);
        if (chunk.length - at - 5 < len) break;
        at += 5 + len;
        this.onMessage(chunk, at - len, at);
      }
      if (at === chunk.length) return;
      chunk = chunk.subarray(at);
    }
    this.chunks.push(chunk);
    this.have += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.have < 5) return;
        if (this.chunks[0].length < 5) this.chunks = [Buffer.concat(this.chunks, this.have)];
        this.need = this.length(this.chunks[0], 0);
      }
      if (this.have < 5 + this.need) return;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.have);
      const len = this.need;
      const rest = all.subarray(5 + len);
      this.chunks = rest.length ? [rest] : [];
      this.have = rest.length;
      this.need = -1;
      this.onMessage(all, 5, 5 + len);
    }
  }

  private length(buf: Buffer, at: number): number {
    if (buf[at] !== 0) throw new ProtoError(`a compressed gRPC message (flag ${buf[at]}), though none was asked for`);
    const len = buf.readUInt32BE(at + 1);
    if (len > this.maxBytes) throw new ProtoError(`a gRPC message of ${len} bytes (more than ${this.maxBytes})`);
    return len;
  }
}
