#!/usr/bin/env python3
"""A web page for browser tests, served on one address; with --relay, every other request on
the same connection is passed byte for byte to another address (the Host header unchanged).

That stands in for DNS rebinding without touching DNS: the browser loads the page from
NAME:PORT, then the page's same-origin requests reach the relay target, which is what a name
that first resolves to the attacker and then to 127.0.0.1 achieves.

Usage: page_server.py --listen HOST:PORT --page FILE [--relay HOST:PORT]
Prints "serving HOST:PORT" once it listens. Stopped by its PID (SIGTERM)."""
import argparse
import socket
import sys
import threading


def split(hp):
    host, port = hp.rsplit(":", 1)
    return host, int(port)


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    return data


def pipe(src, dst):
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(conn, page, relay):
    try:
        conn.settimeout(30)
        data = read_head(conn)
        if data is None:
            return
        path = data.split(b" ", 2)[1] if data.count(b" ") >= 2 else b""
        if path.split(b"?")[0] in (b"/", b"/page.html"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
                         b"Content-Length: " + str(len(page)).encode() + b"\r\nConnection: close\r\n\r\n" + page)
            return
        if relay is None:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        up = socket.create_connection(relay, timeout=30)
        up.sendall(data)
        t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
        t.start()
        pipe(conn, up)
        t.join(30)
        up.close()
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--page", required=True)
    ap.add_argument("--relay")
    a = ap.parse_args()
    page = open(a.page, "rb").read()
    relay = split(a.relay) if a.relay else None
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(split(a.listen))
    srv.listen(64)
    print("serving %s:%d" % srv.getsockname(), flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, page, relay), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
