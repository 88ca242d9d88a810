/*
 * Batched UDP I/O for skydns: recvmmsg/sendmmsg on a socket of our own,
 * driven by libuv's poll on the event loop, so that a burst of queries costs
 * two system calls and one call into JavaScript instead of two system calls,
 * one callback and one new ArrayBuffer per datagram (Node's dgram).
 *
 * JavaScript side: lib/skydns/udp-batch.ts. Memory shared with it, allocated
 * there and kept alive by the handle's references:
 *   recv  BATCH slots of SLOT bytes: the datagrams of a batch;
 *   send  BATCH slots of SLOT bytes: the replies (reply i goes to the sender of datagram i);
 *   lens  Int32Array[2 * BATCH]: [i] length received, [BATCH + i] length to send (0 = none);
 *   addrs BATCH × ADDR bytes: the senders' sockaddr (family at offset 0, as the kernel wrote it).
 * For each batch the module calls onBatch(count) through node's callback
 * machinery (so promises resolved in it run before control returns), then
 * sends every reply with a non-zero length.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define BATCH 64
#define SLOT 4096
#define ADDR 28
/* Batches read per readable event before the loop gets a turn. */
#define ROUNDS 8

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int closing;
  int uv_closed; /* libuv is done with the poll handle */
  int finalized; /* the JS external is gone: nothing can call in any more */
  napi_ref onBatch;
  napi_ref keep; /* the JS object holding the buffers */
  napi_async_context ctx;
  uint8_t *recv;
  uint8_t *send;
  int32_t *lens;
  uint8_t *addrs;
  struct mmsghdr rmsgs[BATCH];
  struct iovec riov[BATCH];
  struct mmsghdr smsgs[BATCH];
  struct iovec siov[BATCH];
  double received, sent, dropped, truncated, batches;
} server_t;

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "udpio: N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* open(host: string, port: number, v6: boolean, reusePort: boolean, bufBytes: number) -> fd */
static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[64];
  size_t hl;
  int32_t port, bufBytes;
  bool v6, reuse;
  CHECK(napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hl));
  CHECK(napi_get_value_int32(env, argv[1], &port));
  CHECK(napi_get_value_bool(env, argv[2], &v6));
  CHECK(napi_get_value_bool(env, argv[3], &reuse));
  CHECK(napi_get_value_int32(env, argv[4], &bufBytes));
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "setsockopt SO_REUSEPORT", e);
  }
  if (bufBytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufBytes, sizeof bufBytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufBytes, sizeof bufBytes);
  }
  int rc;
  if (v6) {
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a.sin6_addr) != 1) {
      close(fd);
      napi_throw_error(env, NULL, "not an IPv6 address");
      return NULL;
    }
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  } else {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
      close(fd);
      napi_throw_error(env, NULL, "not an IPv4 address");
      return NULL;
    }
    rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  }
  if (rc < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

/* The bound port of fd (after binding port 0). */
static napi_value local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return throw_errno(env, "getsockname", errno);
  int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  napi_value out;
  CHECK(napi_create_int32(env, port, &out));
  return out;
}

static void send_replies(server_t *s, int count) {
  int k = 0;
  for (int i = 0; i < count; i++) {
    int32_t len = s->lens[BATCH + i];
    if (len <= 0 || len > SLOT) continue;
    s->siov[k].iov_base = s->send + (size_t)i * SLOT;
    s->siov[k].iov_len = (size_t)len;
    memset(&s->smsgs[k].msg_hdr, 0, sizeof s->smsgs[k].msg_hdr);
    s->smsgs[k].msg_hdr.msg_iov = &s->siov[k];
    s->smsgs[k].msg_hdr.msg_iovlen = 1;
    s->smsgs[k].msg_hdr.msg_name = s->addrs + (size_t)i * ADDR;
    s->smsgs[k].msg_hdr.msg_namelen = s->rmsgs[i].msg_hdr.msg_namelen;
    k++;
  }
  int done = 0;
  while (done < k) {
    int n = sendmmsg(s->fd, s->smsgs + done, (unsigned)(k - done), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* EAGAIN (send buffer full) or an error for the first message: drop it, go on with the rest. */
      s->dropped++;
      done++;
      continue;
    }
    done += n;
    s->sent += n;
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  server_t *s = (server_t *)h->data;
  if (status < 0 || s->closing) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv;
  napi_get_reference_value(env, s->onBatch, &cb);
  napi_get_reference_value(env, s->keep, &recv);
  for (int round = 0; round < ROUNDS && !s->closing; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->riov[i].iov_base = s->recv + (size_t)i * SLOT;
      s->riov[i].iov_len = SLOT;
      memset(&s->rmsgs[i].msg_hdr, 0, sizeof s->rmsgs[i].msg_hdr);
      s->rmsgs[i].msg_hdr.msg_iov = &s->riov[i];
      s->rmsgs[i].msg_hdr.msg_iovlen = 1;
      s->rmsgs[i].msg_hdr.msg_name = s->addrs + (size_t)i * ADDR;
      s->rmsgs[i].msg_hdr.msg_namelen = ADDR;
    }
    int n = recvmmsg(s->fd, s->rmsgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) {
      int trunc = (s->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      if (trunc) s->truncated++;
      s->lens[i] = trunc ? -1 : (int32_t)s->rmsgs[i].msg_len;
      s->lens[BATCH + i] = 0;
    }
    s->received += n;
    s->batches++;
    napi_value argv[1], result;
    napi_create_int32(env, n, &argv[0]);
    napi_status st = napi_make_callback(env, s->ctx, recv, cb, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    if (!s->closing) send_replies(s, n);
    if (n < BATCH) break;
  }
  napi_close_handle_scope(env, scope);
}

/* The memory goes once libuv is done with the handle and JavaScript can no longer reach it. */
static void on_closed(uv_handle_t *h) {
  server_t *s = (server_t *)h->data;
  if (s->onBatch) napi_delete_reference(s->env, s->onBatch);
  if (s->keep) napi_delete_reference(s->env, s->keep);
  if (s->ctx) napi_async_destroy(s->env, s->ctx);
  s->uv_closed = 1;
  if (s->finalized) free(s);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  server_t *s = (server_t *)data;
  s->finalized = 1;
  if (s->uv_closed) free(s);
}

static napi_value get_buffer(napi_env env, napi_value v, size_t want, void **data) {
  size_t len;
  if (napi_get_buffer_info(env, v, data, &len) != napi_ok || len < want) {
    napi_throw_error(env, NULL, "udpio: buffer too small");
    return NULL;
  }
  return v;
}

/* start(fd, holder: { recv, send, lens, addrs }, onBatch) -> external handle */
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  napi_value recv, send, lens, addrs;
  CHECK(napi_get_named_property(env, argv[1], "recv", &recv));
  CHECK(napi_get_named_property(env, argv[1], "send", &send));
  CHECK(napi_get_named_property(env, argv[1], "lens", &lens));
  CHECK(napi_get_named_property(env, argv[1], "addrs", &addrs));
  void *precv, *psend, *plens, *paddrs;
  if (!get_buffer(env, recv, (size_t)BATCH * SLOT, &precv) || !get_buffer(env, send, (size_t)BATCH * SLOT, &psend) ||
      !get_buffer(env, lens, (size_t)BATCH * 2 * sizeof(int32_t), &plens) || !get_buffer(env, addrs, (size_t)BATCH * ADDR, &paddrs))
    return NULL;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[2], &t));
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "udpio: onBatch must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  server_t *s = calloc(1, sizeof *s);
  if (!s) {
    napi_throw_error(env, NULL, "udpio: out of memory");
    return NULL;
  }
  s->env = env;
  s->fd = fd;
  s->recv = precv;
  s->send = psend;
  s->lens = plens;
  s->addrs = paddrs;
  if (uv_poll_init(loop, &s->poll, s->fd) != 0) {
    free(s);
    napi_throw_error(env, NULL, "udpio: uv_poll_init failed");
    return NULL;
  }
  s->poll.data = s;
  napi_value name, ext;
  if (napi_create_reference(env, argv[2], 1, &s->onBatch) != napi_ok || napi_create_reference(env, argv[1], 1, &s->keep) != napi_ok ||
      napi_create_string_utf8(env, "skydns.udp", NAPI_AUTO_LENGTH, &name) != napi_ok || napi_async_init(env, argv[1], name, &s->ctx) != napi_ok ||
      napi_create_external(env, s, on_finalize, NULL, &ext) != napi_ok) {
    /* Nothing was started: let libuv release the handle, then the memory (never finalized by JS). */
    s->closing = 1;
    s->finalized = 1;
    uv_close((uv_handle_t *)&s->poll, on_closed);
    napi_throw_error(env, NULL, "udpio: cannot set up the listener");
    return NULL;
  }
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  return ext;
}

static server_t *server_of(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (server_t *)p;
}

/* sendTo(handle, buf, addr: Buffer (sockaddr as received), addrLen) -> bytes sent or -errno */
static napi_value send_to(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = server_of(env, argv[0]);
  void *buf, *addr;
  size_t len, alen;
  int32_t addrLen;
  CHECK(napi_get_buffer_info(env, argv[1], &buf, &len));
  CHECK(napi_get_buffer_info(env, argv[2], &addr, &alen));
  CHECK(napi_get_value_int32(env, argv[3], &addrLen));
  int32_t rc;
  if (!s || s->closing || addrLen <= 0 || (size_t)addrLen > alen) rc = -EBADF;
  else {
    ssize_t n = sendto(s->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)addr, (socklen_t)addrLen);
    rc = n < 0 ? -errno : (int32_t)n;
    if (n >= 0) s->sent++;
    else s->dropped++;
  }
  napi_value out;
  CHECK(napi_create_int32(env, rc, &out));
  return out;
}

/* addrLen(handle, i): the length of the i-th sender address of the current batch. */
static napi_value addr_len(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = server_of(env, argv[0]);
  int32_t i;
  CHECK(napi_get_value_int32(env, argv[1], &i));
  napi_value out;
  CHECK(napi_create_int32(env, s && i >= 0 && i < BATCH ? (int32_t)s->rmsgs[i].msg_hdr.msg_namelen : 0, &out));
  return out;
}

static napi_value stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = server_of(env, argv[0]);
  napi_value out, v;
  CHECK(napi_create_object(env, &out));
  if (!s) return out;
#define PUT(name) CHECK(napi_create_double(env, s->name, &v)); CHECK(napi_set_named_property(env, out, #name, v));
  PUT(received) PUT(sent) PUT(dropped) PUT(truncated) PUT(batches)
  return out;
}

/* close(handle): stops polling, closes the socket; memory is freed when libuv is done with the handle. */
static napi_value stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = server_of(env, argv[0]);
  if (s && !s->closing) {
    s->closing = 1;
    uv_poll_stop(&s->poll);
    close(s->fd);
    uv_close((uv_handle_t *)&s->poll, on_closed);
  }
  return NULL;
}

static napi_value closefd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
    {"localPort", NULL, local_port, NULL, NULL, NULL, napi_default, NULL},
    {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
    {"sendTo", NULL, send_to, NULL, NULL, NULL, napi_default, NULL},
    {"addrLen", NULL, addr_len, NULL, NULL, NULL, napi_default, NULL},
    {"stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL},
    {"stop", NULL, stop, NULL, NULL, NULL, napi_default, NULL},
    {"closeFd", NULL, closefd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
  napi_create_int32(env, BATCH, &v);
  napi_set_named_property(env, exports, "BATCH", v);
  napi_create_int32(env, SLOT, &v);
  napi_set_named_property(env, exports, "SLOT", v);
  napi_create_int32(env, ADDR, &v);
  napi_set_named_property(env, exports, "ADDR", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
