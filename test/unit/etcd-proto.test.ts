// lib/etcd/proto.ts against protobufjs reading and writing etcd's own .proto files (the copies
// etcd3 ships, node_modules/etcd3/proto): seeded random WatchResponses encoded by protobufjs must
// decode to the same events and fields through ours, and our WatchCreateRequest and
// AuthenticateRequest must decode through protobufjs to what was asked. Then the gRPC framing:
// messages split across chunks at every byte, several in one chunk, and the refusals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import {
  GrpcDeframer,
  ProtoError,
  authenticateRequest,
  grpcFrame,
  readAuthenticateResponse,
  readWatchResponse,
  watchCreateRequest,
} from '../../lib/etcd/proto.js';
import { rng } from '../harness/random.js';

const require = createRequire(import.meta.url);
const protoDir = require.resolve('etcd3/package.json').replace(/package\.json$/, 'proto/');
const root = new protobuf.Root().loadSync(`${protoDir}rpc.proto`, { keepCase: true });
const WatchResponse = root.lookupType('etcdserverpb.WatchResponse');
const WatchRequest = root.lookupType('etcdserverpb.WatchRequest');
const AuthenticateRequest = root.lookupType('etcdserverpb.AuthenticateRequest');
const AuthenticateResponse = root.lookupType('etcdserverpb.AuthenticateResponse');
interface Long64 {
  toString(): string;
}
/** protobufjs's 64-bit integers (the long package), as much of them as this test uses. */
const Long = protobuf.util.Long as unknown as {
  fromNumber(n: number): Long64;
  fromBits(low: number, high: number): Long64;
  fromString(s: string): Long64;
  ZERO: Long64;
};

interface Seen {
  put: boolean;
  key: string;
  value: string;
  lease: string;
  modRevision: number;
}

function decode(bytes: Uint8Array): { events: Seen[]; info: ReturnType<typeof readWatchResponse> } {
  const events: Seen[] = [];
  const buf = Buffer.from(bytes);
  const info = readWatchResponse(buf, 0, buf.length, { event: (put, key, value, lease, modRevision) => void events.push({ put, key, value, lease, modRevision }) });
  return { events, info };
}

describe('etcd protobuf messages (lib/etcd/proto.ts) against protobufjs', () => {
  test('2,000 random WatchResponses: every event, revision, lease ID and flag as protobufjs wrote them', () => {
    const r = rng(20261205);
    const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
    const int64 = (): Long64 => {
      switch (Math.floor(r() * 5)) {
        case 0:
          return Long.fromNumber(Math.floor(r() * 128));
        case 1:
          return Long.fromNumber(Math.floor(r() * 2 ** 48));
        case 2:
          return Long.fromBits((r() * 2 ** 32) | 0, (r() * 2 ** 31) | 0); // up to 2^63: lease IDs
        case 3:
          return Long.fromBits((r() * 2 ** 32) | 0, ((r() * 2 ** 31) | 0) | 0x80000000); // negative: a lease ID's top bit
        default:
          return Long.fromNumber(2 ** 49 + Math.floor(r() * 2 ** 50)); // 8 varint bytes, below 2^53
      }
    };
    const text = (): string => {
      const n = Math.floor(r() * 40);
      let s = '';
      for (let i = 0; i < n; i++) s += pick(['a', '/', '-', '{', '"', '9', 'é', '→', '\u0000', '😀']);
      return s;
    };
    for (let i = 0; i < 2000; i++) {
      const events = Array.from({ length: Math.floor(r() * 6) }, () => {
        const put = r() < 0.6;
        const lease = r() < 0.5 ? Long.ZERO : int64();
        return {
          type: put ? 0 : 1,
          kv: {
            key: Buffer.from(text()),
            create_revision: Long.fromNumber(Math.floor(r() * 2 ** 40)),
            mod_revision: Long.fromNumber(Math.floor(r() * 2 ** 52)),
            version: Long.fromNumber(Math.floor(r() * 1000)),
            value: Buffer.from(put ? text() : ''),
            lease,
          },
          ...(r() < 0.2 ? { prev_kv: { key: Buffer.from(text()), value: Buffer.from(text()), mod_revision: int64() } } : {}),
        };
      });
      const msg = {
        header: r() < 0.9 ? { cluster_id: int64(), member_id: int64(), revision: Long.fromNumber(Math.floor(r() * 2 ** 52)), raft_term: int64() } : undefined,
        watch_id: r() < 0.1 ? Long.fromString('-1') : Long.fromNumber(Math.floor(r() * 1000)),
        created: r() < 0.1,
        canceled: r() < 0.1,
        compact_revision: r() < 0.1 ? Long.fromNumber(Math.floor(r() * 2 ** 40)) : Long.ZERO,
        cancel_reason: r() < 0.1 ? text() : '',
        fragment: r() < 0.05,
        events,
      };
      const bytes = WatchResponse.encode(WatchResponse.fromObject(msg)).finish();
      const back = WatchResponse.toObject(WatchResponse.decode(bytes), { longs: String, defaults: true }) as Record<string, unknown> & {
        header: { revision: string } | null;
        events: Array<{ type: number; kv: { key: Buffer; value: Buffer; lease: string; mod_revision: string } }>;
      };
      const ours = decode(bytes);
      const want = back.events.map((e) => ({
        put: e.type === 0,
        key: Buffer.from(e.kv.key).toString(),
        value: e.type === 0 ? Buffer.from(e.kv.value).toString() : '',
        lease: e.kv.lease,
        modRevision: Number(e.kv.mod_revision),
      }));
      assert.deepEqual(ours.events, want, `message ${i}: events`);
      assert.deepEqual(
        {
          revision: ours.info.revision,
          watchId: ours.info.watchId,
          created: ours.info.created,
          canceled: ours.info.canceled,
          compactRevision: ours.info.compactRevision,
          cancelReason: ours.info.cancelReason,
          fragment: ours.info.fragment,
          events: ours.info.events,
        },
        {
          revision: back.header ? back.header.revision : '0',
          watchId: String(back.watch_id),
          created: back.created,
          canceled: back.canceled,
          compactRevision: Number(back.compact_revision),
          cancelReason: back.cancel_reason,
          fragment: back.fragment,
          events: back.events.length,
        },
        `message ${i}: fields`,
      );
    }
  });

  test('a lease ID the way etcd3 gives it: the signed decimal of the int64, past 2^53 exact', () => {
    for (const id of ['0', '1', '9007199254740993', '7587869345543925252', '-8446474893275381503', '-1', '562949953421312']) {
      const bytes = WatchResponse.encode(WatchResponse.fromObject({ events: [{ type: 0, kv: { key: Buffer.from('k'), value: Buffer.from('v'), lease: Long.fromString(id) } }] })).finish();
      assert.equal(decode(bytes).events[0].lease, id);
    }
  });

  test('fields it does not know are skipped by wire type (a newer etcd adding fields is still read)', () => {
    const known = Buffer.from(WatchResponse.encode(WatchResponse.fromObject({ events: [{ type: 1, kv: { key: Buffer.from('/skydns/x'), mod_revision: 7 } }] })).finish());
    const w = protobuf.Writer.create();
    w.uint32((20 << 3) | 0).uint64('18446744073709551615'); // varint
    w.uint32((21 << 3) | 1).fixed64(5); // 64-bit
    w.uint32((22 << 3) | 2).bytes(Buffer.from('later')); // length-delimited
    w.uint32((23 << 3) | 5).fixed32(9); // 32-bit
    const extra = Buffer.from(w.finish());
    const { events } = decode(Buffer.concat([extra, known, extra]));
    assert.deepEqual(events, [{ put: false, key: '/skydns/x', value: '', lease: '0', modRevision: 7 }]);
  });

  test('a truncated or wrong message is a ProtoError, never a wrong event', () => {
    const good = Buffer.from(WatchResponse.encode(WatchResponse.fromObject({ header: { revision: 300 }, events: [{ type: 0, kv: { key: Buffer.from('/skydns/a'), value: Buffer.from('{"host":"10.0.0.1"}'), mod_revision: 300 } }] })).finish());
    for (let cut = 1; cut < good.length; cut++) {
      const events: string[] = [];
      try {
        readWatchResponse(good, 0, cut, { event: (_p, key, value) => void events.push(`${key}=${value}`) });
      } catch (err) {
        assert.ok(err instanceof ProtoError, `cut at ${cut}: ${err}`);
        continue;
      }
      // A cut between fields reads as a shorter message: never a half event.
      assert.ok(events.length === 0 || events[0] === '/skydns/a={"host":"10.0.0.1"}', `cut at ${cut}: ${events}`);
    }
    assert.throws(() => decode(Buffer.from([(11 << 3) | 3])), ProtoError, 'a group wire type');
    assert.throws(() => decode(Buffer.from([(11 << 3) | 2, 2, (1 << 3) | 0, 7])), /neither PUT nor DELETE/);
    assert.throws(() => decode(Buffer.from([(11 << 3) | 2, 2, (1 << 3) | 0, 0])), /without its key-value/);
    assert.throws(() => decode(Buffer.from([(5 << 3) | 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), /2\^53/);
    assert.throws(() => decode(Buffer.from([(5 << 3) | 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])), /2\^53/, '2^56 - 1 in eight bytes');
    assert.equal(decode(Buffer.from([(5 << 3) | 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])).info.compactRevision, 2 ** 53 - 1);
  });

  test('a field cannot run past the message that holds it: an event whose key-value overruns the event is refused', () => {
    // An event of 4 bytes (type PUT, then a key-value said to be 6 bytes long) followed by top-level
    // fields: read loosely, the key-value would swallow them and the same bytes count twice.
    assert.throws(() => decode(Buffer.from([(11 << 3) | 2, 4, (1 << 3) | 0, 0, (2 << 3) | 2, 6, 0x0a, 2, 0x18, 9, 0x18, 5])), ProtoError);
    // A header whose revision varint overruns the header.
    assert.throws(() => decode(Buffer.from([(1 << 3) | 2, 2, (3 << 3) | 0, 0x80, 0x01])), ProtoError);
  });

  test('a response is checked whole before any event reaches the sink: a broken second event means no event at all', () => {
    const good = Buffer.from(WatchResponse.encode(WatchResponse.fromObject({ events: [{ type: 0, kv: { key: Buffer.from('/skydns/a'), value: Buffer.from('1'), mod_revision: 9 } }] })).finish());
    const broken = Buffer.from([(11 << 3) | 2, 2, (1 << 3) | 0, 7]); // type 7
    const events: string[] = [];
    assert.throws(() => readWatchResponse(Buffer.concat([good, broken]), 0, good.length + broken.length, { event: (_p, key) => void events.push(key) }), /neither PUT nor DELETE/);
    assert.deepEqual(events, []);
  });

  test('our WatchCreateRequest and AuthenticateRequest, read by protobufjs', () => {
    for (const rev of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 40 + 5]) {
      const req = WatchRequest.toObject(WatchRequest.decode(watchCreateRequest(Buffer.from('/skydns/'), Buffer.from('/skydns0'), rev)), { longs: String, defaults: false }) as {
        create_request: { key: Buffer; range_end: Buffer; start_revision?: string; progress_notify?: boolean };
      };
      assert.equal(req.create_request.progress_notify, true, 'progress notifications asked for');
      assert.equal(Buffer.from(req.create_request.key).toString(), '/skydns/');
      assert.equal(Buffer.from(req.create_request.range_end).toString(), '/skydns0');
      assert.equal(req.create_request.start_revision ?? '0', String(rev));
    }
    const auth = AuthenticateRequest.toObject(AuthenticateRequest.decode(authenticateRequest('root', 'pässwörd'))) as { name: string; password: string };
    assert.deepEqual({ ...auth }, { name: 'root', password: 'pässwörd' });
    const token = AuthenticateResponse.encode(AuthenticateResponse.fromObject({ header: { revision: 4 }, token: 'abc.123' })).finish();
    assert.equal(readAuthenticateResponse(Buffer.from(token)), 'abc.123');
  });

  test('gRPC framing: messages split at every byte, several in one chunk, each handed over whole and once', () => {
    const messages = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('last')];
    const stream = Buffer.concat(messages.map(grpcFrame));
    for (const step of [1, 2, 3, 5, 7, 4096, 65536, stream.length]) {
      const got: Buffer[] = [];
      const d = new GrpcDeframer((b, s, e) => void got.push(Buffer.from(b.subarray(s, e))));
      for (let at = 0; at < stream.length; at += step) d.push(stream.subarray(at, Math.min(stream.length, at + step)));
      assert.deepEqual(got, messages, `chunks of ${step}`);
    }
    assert.throws(() => new GrpcDeframer(() => undefined).push(Buffer.from([1, 0, 0, 0, 1, 9])), /compressed gRPC message/);
    assert.throws(() => new GrpcDeframer(() => undefined, 100).push(Buffer.from([0, 0, 0, 1, 0])), /256 bytes \(more than 100\)/);
  });
});
