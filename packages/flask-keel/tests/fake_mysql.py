"""A MySQL 8.4 server just far enough to log a client in with caching_sha2_password.

MariaDB (what the machine and the container lab run) has no caching_sha2_password,
MySQL 8's default; this speaks its full authentication over a connection without
TLS: the server asks for the password, the client fetches the server's RSA key
and sends the password encrypted with it (which needs `cryptography` on the
client side). The server then accepts (and answers OK to every query) or
refuses with MySQL's "Access denied" (1045). Protocol:
https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
"""

from __future__ import annotations

import os
import socket
import struct
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CLIENT_LONG_PASSWORD = 1
CLIENT_FOUND_ROWS = 2
CLIENT_LONG_FLAG = 4
CLIENT_CONNECT_WITH_DB = 8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x200000
CAPABILITIES = (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB
                | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS
                | CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
OK = b"\x00\x00\x00\x02\x00\x00\x00"  # header, no rows, no insert id, autocommit status, no warnings


class FakeMySQL:
    def __init__(self, password: str, accept: bool = True):
        self.password = password
        self.accept = accept
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.attempts: list[str] = []  # what each login ended with: "accepted", "refused", "no password"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeMySQL:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    # -- packets --------------------------------------------------------------------------

    @staticmethod
    def _send(connection: socket.socket, sequence: int, payload: bytes) -> None:
        connection.sendall(struct.pack("<I", len(payload))[:3] + bytes([sequence & 0xFF]) + payload)

    @staticmethod
    def _receive(connection: socket.socket) -> tuple[int, bytes]:
        header = _read_exactly(connection, 4)
        length = int.from_bytes(header[:3], "little")
        return header[3], _read_exactly(connection, length)

    def _error(self, connection: socket.socket, sequence: int, code: int, message: str) -> None:
        self._send(connection, sequence, b"\xff" + struct.pack("<H", code) + b"#28000" + message.encode())

    # -- one client -----------------------------------------------------------------------

    def _session(self, connection: socket.socket) -> None:
        try:
            self._login(connection)
        except (OSError, ConnectionError):
            pass
        finally:
            connection.close()

    def _login(self, connection: socket.socket) -> None:
        nonce = bytes(b % 94 + 33 for b in os.urandom(20))  # printable, no NUL
        handshake = (b"\x0a" + b"8.4.0-fake\x00" + struct.pack("<I", 7) + nonce[:8] + b"\x00"
                     + struct.pack("<H", CAPABILITIES & 0xFFFF) + bytes([255]) + struct.pack("<H", 2)
                     + struct.pack("<H", CAPABILITIES >> 16) + bytes([21]) + b"\x00" * 10 + nonce[8:] + b"\x00"
                     + b"caching_sha2_password\x00")
        self._send(connection, 0, handshake)
        sequence, _response = self._receive(connection)
        # No cached entry for this account: always ask for the full exchange.
        self._send(connection, sequence + 1, b"\x01\x04")
        sequence, request = self._receive(connection)
        if request == b"\x02":  # the client asks for the public key, to encrypt the password
            pem = self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
            self._send(connection, sequence + 1, b"\x01" + pem)
            sequence, request = self._receive(connection)
        try:
            decrypted = self.key.decrypt(request, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),  # noqa: S303
                                                               algorithm=hashes.SHA1(), label=None))  # noqa: S303
        except ValueError:
            self.attempts.append("no password")
            self._error(connection, sequence + 1, 1045, "Access denied for user (bad password exchange)")
            return
        password = bytes(b ^ nonce[i % len(nonce)] for i, b in enumerate(decrypted)).rstrip(b"\x00").decode()
        if not self.accept or password != self.password:
            self.attempts.append("refused")
            self._error(connection, sequence + 1, 1045,
                        "Access denied for user 'app'@'127.0.0.1' (using password: YES)")
            return
        self.attempts.append("accepted")
        self._send(connection, sequence + 1, OK)
        while True:  # every query (SET NAMES, ...) answers OK; COM_QUIT ends
            _, command = self._receive(connection)
            if not command or command[0] == 0x01:
                return
            self._send(connection, 1, OK)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data
