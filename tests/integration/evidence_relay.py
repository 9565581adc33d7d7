"""A relay between two gateways that can flip one byte of the next non-empty DATA frame
the client side sends (or of a later one, flip_skip frames on: the middle of a stream): what an attacker on the path could do once a message was signed.
The client side speaks plain HTTP/2 (h2c, prior knowledge: the frames are visible); the
relay reaches the server over TLS with ALPN h2 when `tls` is set (a gateway with an
identity serves TLS only), without checking its certificate, presenting the client
certificate `client_cert` (the channel is the attacker's: only the signature is left). The server-to-client
direction passes untouched, except that `hold_trailers` seconds can be put between an
answer's body and its trailers (a receipt that comes late; everything behind it waits too,
so that HPACK's order is kept)."""
import time
import socket
import ssl
import threading

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, FLAG_PADDED, END_STREAM = 0, 1, 0x8, 0x1


class H2Relay:
    def __init__(self, listen_port, target_port, tls=False, client_cert=None):
        self.target_port = target_port
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.tls.check_hostname = False
            self.tls.verify_mode = ssl.CERT_NONE
            self.tls.set_alpn_protocols(["h2"])
            if client_cert:
                self.tls.load_cert_chain(*client_cert)
        self.flip = False   # flip a byte of the next DATA frame (then turns itself off)
        self.flip_skip = 0  # non-empty DATA frames to pass unaltered first (mid-stream flips)
        self.flipped = 0    # DATA frames altered so far
        self.hold_trailers = 0.0  # hold the next answer's trailers this long (then turns off)
        self.held = 0             # trailers held so far
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", listen_port))
        self.sock.listen(16)
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target_port))
            if self.tls:
                u = self.tls.wrap_socket(u)
            with self.lock:
                self.conns += [c, u]
            threading.Thread(target=self._client_to_server, args=(c, u), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(u, c), daemon=True).start()

    @staticmethod
    def _recv_exact(s, n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _client_to_server(self, c, u):
        try:
            u.sendall(self._recv_exact(c, len(PREFACE)))
            while True:
                head = self._recv_exact(c, 9)
                length = int.from_bytes(head[:3], "big")
                payload = bytearray(self._recv_exact(c, length))
                ftype, flags = head[3], head[4]
                if ftype == DATA and self.flip:
                    start = 1 if flags & FLAG_PADDED else 0
                    end = length - (payload[0] if flags & FLAG_PADDED else 0)
                    if end > start and self.flip_skip > 0:
                        self.flip_skip -= 1
                    elif end > start:
                        payload[start + (end - start) // 2] ^= 0x01
                        self.flip = False
                        self.flipped += 1
                u.sendall(head + bytes(payload))
        except (EOFError, OSError):
            pass
        finally:
            self._close(c, u)

    def _server_to_client(self, u, c):
        answered = set()  # streams whose answer head passed
        try:
            while True:
                head = self._recv_exact(u, 9)
                payload = self._recv_exact(u, int.from_bytes(head[:3], "big"))
                ftype, flags = head[3], head[4]
                sid = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                if ftype == HEADERS and sid in answered and flags & END_STREAM and self.hold_trailers:
                    hold, self.hold_trailers = self.hold_trailers, 0.0
                    self.held += 1
                    time.sleep(hold)
                if ftype == HEADERS:
                    answered.add(sid)
                c.sendall(head + payload)
        except (EOFError, OSError):
            pass
        finally:
            self._close(u, c)

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    @staticmethod
    def _close(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.sock.close()
        with self.lock:
            self._close(*self.conns)


def _varint(b, i):
    n = shift = 0
    while True:
        n |= (b[i] & 0x7F) << shift
        i += 1
        if not b[i - 1] & 0x80:
            return n, i
        shift += 7


def _merge_inbound(first, second):
    """One Inbound whose payload (field 2) is first's then second's; first's other fields."""
    payload, rest = b"", b""
    for msg, keep in ((first, True), (second, False)):
        i = 0
        while i < len(msg):
            start = i
            key, i = _varint(msg, i)
            if key & 7 == 2:
                n, i = _varint(msg, i)
                value, i = msg[i:i + n], i + n
                if key >> 3 == 2:
                    payload += value
                    continue
            elif key & 7 == 0:
                _, i = _varint(msg, i)
            else:
                raise ValueError("unexpected wire type in an Inbound")
            if keep:
                rest += msg[start:i]
    n, head = len(payload), bytearray([0x12])
    while True:
        head.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            break
    return rest + bytes(head) + payload


class GrpcMergingRelay(H2Relay):
    """An H2Relay on a gRPC hop that, once `merge` is set, merges the first two gRPC messages
    of the next request stream into one (one Inbound with both payloads, in order): the
    stream's bytes stay the same, its message boundaries do not. The merged stream's DATA
    goes on re-chunked at message boundaries; everything else passes untouched."""

    def __init__(self, *args, **kwargs):
        self.merge = False  # merge the first two messages of the next stream (turns itself off)
        self.merged = 0     # streams altered so far
        super().__init__(*args, **kwargs)

    def _client_to_server(self, c, u):
        streams = {}  # stream id -> {"buf": bytes not yet a whole message, "held": message 1}
        try:
            u.sendall(self._recv_exact(c, len(PREFACE)))
            while True:
                head = self._recv_exact(c, 9)
                length = int.from_bytes(head[:3], "big")
                payload = self._recv_exact(c, length)
                ftype, flags = head[3], head[4]
                sid = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                if ftype != DATA or (sid not in streams and not self.merge):
                    u.sendall(head + payload)
                    continue
                if sid not in streams:
                    streams[sid] = {"buf": b"", "held": None, "done": False}
                    self.merge = False
                s = streams[sid]
                start = 1 if flags & FLAG_PADDED else 0
                s["buf"] += payload[start:length - (payload[0] if flags & FLAG_PADDED else 0)]
                out = b""
                while len(s["buf"]) >= 5 and len(s["buf"]) >= 5 + int.from_bytes(s["buf"][1:5], "big"):
                    n = int.from_bytes(s["buf"][1:5], "big")
                    msg, s["buf"] = s["buf"][5:5 + n], s["buf"][5 + n:]
                    if not s["done"] and s["held"] is None:
                        s["held"] = msg
                        continue
                    if s["held"] is not None:
                        msg, s["held"], s["done"] = _merge_inbound(s["held"], msg), None, True
                        self.merged += 1
                    out += b"\x00" + len(msg).to_bytes(4, "big") + msg
                end = flags & 0x1  # END_STREAM
                while out or end:
                    part, out = out[:16384], out[16384:]
                    last = end if not out else 0
                    u.sendall(len(part).to_bytes(3, "big") + bytes([DATA, last]) + head[5:9] + part)
                    if not out:
                        break
        except (EOFError, OSError):
            pass
        finally:
            self._close(c, u)
