"""A fake HTTP/2 (h2c, prior knowledge) service or peer for tests (python3-h2): each accepted
connection runs the same loop (SETTINGS, read, feed h2, send what it has to send); a
subclass says what to do with the events in on_events(conn, events) and may set the
SETTINGS it announces (`settings`, h2.settings.SettingCodes -> value)."""
import h2.config
import h2.connection
import h2.exceptions
import h2.settings

from loopback_server import LoopbackServer


class H2Server(LoopbackServer):
    settings = {}

    def on_events(self, conn, events):
        raise NotImplementedError

    def serve(self, c):
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        if self.settings:
            conn.local_settings = h2.settings.Settings(client=False, initial_values=self.settings)
        conn.initiate_connection()
        try:
            c.sendall(conn.data_to_send())
            while True:
                data = c.recv(65536)
                if not data:
                    return
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    return
                self.on_events(conn, events)
                out = conn.data_to_send()
                if out:
                    c.sendall(out)
        except OSError:
            pass
        finally:
            c.close()
