"""A TCP server on 127.0.0.1 for the fake services and peers of the tests: each accepted
connection is served by the subclass's serve(conn) on a thread of its own. A subclass sets
its own fields before calling LoopbackServer.__init__ (connections may be served at once)."""
import socket
import threading


class LoopbackServer:
    def __init__(self, port, backlog=16):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(backlog)
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, conn):
        raise NotImplementedError

    def close(self):
        """Stops listening and shuts the accepted connections down."""
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
