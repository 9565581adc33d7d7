"""A fake HTTP/2 (h2c, prior knowledge) service or peer for tests (python3-h2): each accepted
connection runs the same loop (SETTINGS, read, feed h2, send what it has to send). A
subclass says what to do with the events in on_events(conn, events, state), where `state`
is a dict of its own per connection; it may return raw frames, sent after what the library
has to send (its SETTINGS ACK first), for answers python-h2 would not write. It may set the
SETTINGS it announces (`settings`, h2.settings.SettingCodes -> value) and which errors end a
connection quietly (`tolerated`)."""
import h2.config
import h2.connection
import h2.exceptions
import h2.settings

from loopback_server import LoopbackServer


class H2Server(LoopbackServer):
    settings = {}
    tolerated = (OSError, h2.exceptions.H2Error)

    def on_events(self, conn, events, state):
        raise NotImplementedError

    def serve(self, c):
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        if self.settings:
            conn.local_settings = h2.settings.Settings(client=False, initial_values=self.settings)
        conn.initiate_connection()
        state = {}
        try:
            c.sendall(conn.data_to_send())
            while True:
                data = c.recv(65536)
                if not data:
                    return
                raw = self.on_events(conn, conn.receive_data(data), state)
                c.sendall(conn.data_to_send())
                if raw:
                    c.sendall(raw)
        except self.tolerated:
            pass
        finally:
            c.close()
