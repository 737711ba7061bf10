"""What the load scenarios share: paths, a threaded loopback backend, free
ports, and the TCP-mode configuration they all run."""
import os
import socket
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TMP = os.environ.get("TMPDIR", "/tmp")
DEFAULT_RINGLB = os.path.join(HERE, "..", "..", "target", "release", "ringlb")


def freeport():
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    p = t.getsockname()[1]
    t.close()
    return p


def backend(serve):
    """A loopback server running `serve(conn)` in a thread per connection;
    its port."""
    bl = socket.socket()
    bl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    bl.bind(("127.0.0.1", 0))
    bl.listen(4096)

    def acc():
        while True:
            c, _ = bl.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=acc, daemon=True).start()
    return bl.getsockname()[1]


def tcp_config(global_lines, port, bport, timeout="30s"):
    """One frontend on `port` in front of one server on `bport`."""
    return f"""global
{global_lines}defaults
    mode tcp
    timeout connect 2s
    timeout client {timeout}
    timeout server {timeout}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{bport}
"""


def program(mode):
    """The proxy's command line: haproxy in the foreground, or ringlb."""
    if mode == "haproxy":
        return ["/usr/sbin/haproxy", "-db"]
    return [os.environ.get("RINGLB", DEFAULT_RINGLB)]
