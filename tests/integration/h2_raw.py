"""A raw HTTP/2 client for tests (python3-h2): streams whose headers and body the test
sends frame by frame, honouring flow control, and whatever the gateway answers on each
(headers, data, trailers, resets), including RST_STREAM and windows that stay shut."""
import socket
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


class StreamState:
    def __init__(self):
        self.headers = None    # dict of the response headers (str -> str)
        self.data = b""
        self.trailers = None
        self.ended = False     # the gateway ended its answer
        self.reset = None      # error code of a RST_STREAM from the gateway

    @property
    def status(self):
        return int(self.headers[":status"]) if self.headers else None

    @property
    def closed(self):
        return self.reset is not None or self.ended


class H2Client:
    """One prior-knowledge h2c connection to 127.0.0.1:port."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8", validate_outbound_headers=False))
        self.conn.initiate_connection()
        self.streams = {}
        self.terminated = False
        self.got_settings = False
        self.flush()
        # The gateway's SETTINGS (its stream limit and windows) before anything else.
        self.wait(lambda: self.got_settings, timeout=5)

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, path, headers, content_type="application/octet-stream", end_stream=False,
                content_length=None, extra=()):
        sid = self.conn.get_next_available_stream_id()
        h = [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", path)]
        if content_type is not None:
            h.append(("content-type", content_type))
        if content_length is not None:
            h.append(("content-length", str(content_length)))
        h += list(extra) + list(headers.items())
        self.streams[sid] = StreamState()
        self.conn.send_headers(sid, h, end_stream=end_stream)
        self.flush()
        return sid

    def pump(self, timeout=0.0):
        """Reads what has arrived (waiting up to timeout for the first bytes); False on EOF."""
        self.sock.settimeout(timeout if timeout > 0 else 0.0)
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, socket.timeout):
            return True
        except OSError:
            self.terminated = True
            return False
        finally:
            self.sock.settimeout(None)
        if not data:
            self.terminated = True
            return False
        for ev in self.conn.receive_data(data):
            self._on_event(ev)
        self.flush()
        return True

    def _on_event(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None) or 0)
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.got_settings = True
        elif isinstance(ev, h2.events.ResponseReceived):
            st.headers = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            st.data += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            st.trailers = dict(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.terminated = True

    def wait(self, pred, timeout=10.0):
        """Reads until pred() holds; returns pred()."""
        deadline = time.time() + timeout
        while not pred() and time.time() < deadline and not self.terminated:
            self.pump(min(0.2, max(0.0, deadline - time.time())))
        return pred()

    def send_body(self, sid, total, end_stream=True, chunk=65536, stall=1.0, until_answered=False):
        """Sends up to `total` zero bytes on sid as flow control allows. Stops early when the
        stream is reset or closed, when the window stays shut for `stall` seconds, or (with
        until_answered) once an answer has begun. Returns the bytes sent."""
        st = self.streams[sid]
        sent = 0
        block = b"\0" * chunk
        shut_since = None
        while sent < total and not self.terminated:
            self.pump()
            if st.reset is not None or (until_answered and st.headers is not None):
                break
            try:
                window = self.conn.local_flow_control_window(sid)
            except h2.exceptions.StreamClosedError:
                break
            if window <= 0:
                shut_since = shut_since or time.time()
                if time.time() - shut_since > stall:
                    break
                self.pump(0.05)
                continue
            shut_since = None
            n = min(window, total - sent, chunk, self.conn.max_outbound_frame_size)
            try:
                self.conn.send_data(sid, block[:n], end_stream=end_stream and sent + n == total)
            except h2.exceptions.StreamClosedError:
                break
            self.flush()
            sent += n
        return sent

    def end(self, sid):
        try:
            self.conn.end_stream(sid)
            self.flush()
        except h2.exceptions.StreamClosedError:
            pass
